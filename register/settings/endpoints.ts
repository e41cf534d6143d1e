// The settings of the metrics and logs signals and of the context carried in the environment: rows of the one
// settings table (settings/table.ts spreads them into SPECS and DEFAULTS). Where each signal's OTLP goes is
// export/target.ts. Types only come from settings/table.ts, so there is no load cycle.
import type { SettingSpec, Settings } from './table';

export const METRICS_EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;
export const LOGS_EXPORTERS = ['otlp', 'console', 'none'] as const;
export const TEMPORALITY_PREFERENCES = ['cumulative', 'delta', 'lowmemory'] as const;

export interface SignalSettings {
  metricsExporter: string[];
  logsExporter: string[];
  metricExportInterval: number;
  metricExportTimeout: number;
  exporterOtlpMetricsEndpoint?: string;
  exporterOtlpMetricsProtocol?: string;
  exporterOtlpMetricsHeaders: Record<string, string>;
  exporterOtlpMetricsTimeout?: number;
  exporterOtlpMetricsCompression?: string;
  exporterOtlpMetricsTemporalityPreference: string;
  exporterOtlpLogsEndpoint?: string;
  exporterOtlpLogsProtocol?: string;
  exporterOtlpLogsHeaders: Record<string, string>;
  exporterOtlpLogsTimeout?: number;
  exporterOtlpLogsCompression?: string;
  exporterPrometheusHost?: string;
  exporterPrometheusPort: number;
  blrpScheduleDelay: number;
  blrpExportTimeout: number;
  blrpMaxQueueSize: number;
  blrpMaxExportBatchSize: number;
  logrecordAttributeCountLimit?: number;
  logrecordAttributeValueLengthLimit?: number;
  processSpan: boolean;
}

const MAX_INT = 2 ** 31 - 1;
const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;

function perSignal(signal: 'metrics' | 'logs'): SettingSpec[] {
  const Cap = signal === 'metrics' ? 'Metrics' : 'Logs';
  const ENV = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}`;
  const what = signal === 'metrics' ? 'metrics' : 'log records';
  return [
    {
      key: `exporterOtlp${Cap}Endpoint` as keyof Settings,
      env: `${ENV}_ENDPOINT`,
      kind: 'string',
      group: 'OTLP exporter',
      description: `full URL for ${what}, used as is`,
    },
    {
      key: `exporterOtlp${Cap}Protocol` as keyof Settings,
      env: `${ENV}_PROTOCOL`,
      kind: 'enum',
      values: PROTOCOLS,
      group: 'OTLP exporter',
      description: `wire protocol for ${what}`,
    },
    {
      key: `exporterOtlp${Cap}Headers` as keyof Settings,
      env: `${ENV}_HEADERS`,
      kind: 'kv',
      secret: true,
      group: 'OTLP exporter',
      description: `headers for ${what} requests`,
    },
    {
      key: `exporterOtlp${Cap}Timeout` as keyof Settings,
      env: `${ENV}_TIMEOUT`,
      kind: 'int',
      min: 1,
      max: MAX_INT,
      group: 'OTLP exporter',
      description: `request timeout for ${what}, ms`,
    },
    {
      key: `exporterOtlp${Cap}Compression` as keyof Settings,
      env: `${ENV}_COMPRESSION`,
      kind: 'enum',
      values: ['gzip', 'none'],
      group: 'OTLP exporter',
      description: `compression for ${what}`,
    },
  ];
}

function int(
  key: keyof SignalSettings,
  env: string,
  min: number,
  max: number,
  description: string,
): SettingSpec {
  return { key, env, kind: 'int', min, max, group: 'Metrics and logs', description };
}

export const SIGNAL_SPECS: readonly SettingSpec[] = [
  {
    key: 'metricsExporter',
    env: 'OTEL_METRICS_EXPORTER',
    kind: 'enumList',
    values: METRICS_EXPORTERS,
    group: 'Metrics and logs',
    description: 'where metrics go (console writes to stderr)',
  },
  {
    key: 'logsExporter',
    env: 'OTEL_LOGS_EXPORTER',
    kind: 'enumList',
    values: LOGS_EXPORTERS,
    group: 'Metrics and logs',
    description: 'where log records go (console writes to stderr)',
  },
  int('metricExportInterval', 'OTEL_METRIC_EXPORT_INTERVAL', 1, MAX_INT, 'ms between metric exports'),
  int('metricExportTimeout', 'OTEL_METRIC_EXPORT_TIMEOUT', 1, MAX_INT, 'ms a metric export may take'),
  {
    key: 'exporterOtlpMetricsTemporalityPreference',
    env: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    kind: 'enum',
    values: TEMPORALITY_PREFERENCES,
    group: 'Metrics and logs',
    description: 'aggregation temporality of OTLP metrics',
  },
  {
    key: 'exporterPrometheusHost',
    env: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    kind: 'string',
    group: 'Metrics and logs',
    description: 'address the Prometheus endpoint listens on (default: all interfaces)',
  },
  int(
    'exporterPrometheusPort',
    'OTEL_EXPORTER_PROMETHEUS_PORT',
    0,
    65535,
    'Prometheus port (0: any free port)',
  ),
  int('blrpScheduleDelay', 'OTEL_BLRP_SCHEDULE_DELAY', 0, MAX_INT, 'ms between log record exports'),
  int('blrpExportTimeout', 'OTEL_BLRP_EXPORT_TIMEOUT', 0, MAX_INT, 'ms a log record export may take'),
  int(
    'blrpMaxQueueSize',
    'OTEL_BLRP_MAX_QUEUE_SIZE',
    1,
    MAX_INT,
    'log records held before new ones are dropped',
  ),
  int('blrpMaxExportBatchSize', 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', 1, MAX_INT, 'log records per export'),
  int(
    'logrecordAttributeCountLimit',
    'OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT',
    0,
    MAX_INT,
    'attributes per log record',
  ),
  int(
    'logrecordAttributeValueLengthLimit',
    'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    0,
    MAX_INT,
    'characters per log record attribute value',
  ),
  ...perSignal('metrics'),
  ...perSignal('logs'),
  {
    key: 'processSpan',
    env: 'OTEL_RUN_PROCESS_SPAN',
    kind: 'boolean',
    group: 'otel-run',
    description: 'one span for the whole process run, with the work of the process under it',
  },
];

export const SIGNAL_DEFAULTS: SignalSettings = {
  metricsExporter: ['otlp'],
  logsExporter: ['otlp'],
  metricExportInterval: 60_000,
  metricExportTimeout: 30_000,
  exporterOtlpMetricsHeaders: {},
  exporterOtlpMetricsTemporalityPreference: 'cumulative',
  exporterOtlpLogsHeaders: {},
  exporterPrometheusPort: 9464,
  blrpScheduleDelay: 1000,
  blrpExportTimeout: 30_000,
  blrpMaxQueueSize: 2048,
  blrpMaxExportBatchSize: 512,
  processSpan: false,
};

/** The exporters of a list setting, `none` winning over everything else (as the spec says). */
export function selected(list: readonly string[]): string[] {
  return list.includes('none') ? [] : [...new Set(list)];
}

export function metricsOn(s: Settings): boolean {
  return selected(s.metricsExporter).length > 0;
}

export function logsOn(s: Settings): boolean {
  return selected(s.logsExporter).length > 0;
}
