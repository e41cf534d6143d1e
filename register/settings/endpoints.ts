// The settings of the metrics and logs signals and of the context carried in the environment: rows of the one
// settings table (settings/table.ts spreads them into SPECS and DEFAULTS; rows are built as settings/rows.ts says).
// Where each signal's OTLP goes is export/target.ts. The field types come from settings/types.ts.
import { anyOf, flag, int, oneOf, pairs, type SettingSpec, text } from './rows';
import type { Settings, SignalSettings } from './types';

export const METRICS_EXPORTERS = ['otlp', 'prometheus', 'console', 'none'] as const;
export const LOGS_EXPORTERS = ['otlp', 'console', 'none'] as const;
export const TEMPORALITY_PREFERENCES = ['cumulative', 'delta', 'lowmemory'] as const;

const MAX_INT = 2 ** 31 - 1;
const PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;

function perSignal(signal: 'metrics' | 'logs'): SettingSpec[] {
  const Cap = signal === 'metrics' ? 'Metrics' : 'Logs';
  const ENV = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}`;
  const what = signal === 'metrics' ? 'metrics' : 'log records';
  const group = 'OTLP exporter';
  return [
    text({
      key: `exporterOtlp${Cap}Endpoint` as const,
      env: `${ENV}_ENDPOINT`,
      group,
      description: `full URL for ${what}, used as is`,
    }),
    oneOf(PROTOCOLS, {
      key: `exporterOtlp${Cap}Protocol` as const,
      env: `${ENV}_PROTOCOL`,
      group,
      description: `wire protocol for ${what}`,
    }),
    pairs({
      key: `exporterOtlp${Cap}Headers` as const,
      env: `${ENV}_HEADERS`,
      secret: true,
      group,
      description: `headers for ${what} requests`,
    }),
    int({
      key: `exporterOtlp${Cap}Timeout` as const,
      env: `${ENV}_TIMEOUT`,
      min: 1,
      max: MAX_INT,
      group,
      description: `request timeout for ${what}, ms`,
    }),
    oneOf(['gzip', 'none'], {
      key: `exporterOtlp${Cap}Compression` as const,
      env: `${ENV}_COMPRESSION`,
      group,
      description: `compression for ${what}`,
    }),
  ];
}

function count<K extends keyof SignalSettings>(
  key: K,
  env: string,
  min: number,
  max: number,
  description: string,
) {
  return int({ key, env, min, max, group: 'Metrics and logs', description });
}

export const SIGNAL_SPECS: readonly SettingSpec[] = [
  anyOf(METRICS_EXPORTERS, {
    key: 'metricsExporter',
    env: 'OTEL_METRICS_EXPORTER',
    group: 'Metrics and logs',
    description: 'where metrics go (console writes to stderr)',
  }),
  anyOf(LOGS_EXPORTERS, {
    key: 'logsExporter',
    env: 'OTEL_LOGS_EXPORTER',
    group: 'Metrics and logs',
    description: 'where log records go (console writes to stderr)',
  }),
  count('metricExportInterval', 'OTEL_METRIC_EXPORT_INTERVAL', 1, MAX_INT, 'ms between metric exports'),
  count('metricExportTimeout', 'OTEL_METRIC_EXPORT_TIMEOUT', 1, MAX_INT, 'ms a metric export may take'),
  oneOf(TEMPORALITY_PREFERENCES, {
    key: 'exporterOtlpMetricsTemporalityPreference',
    env: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    group: 'Metrics and logs',
    description: 'aggregation temporality of OTLP metrics',
  }),
  text({
    key: 'exporterPrometheusHost',
    env: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    group: 'Metrics and logs',
    description: 'address the Prometheus endpoint listens on (default: all interfaces)',
  }),
  count(
    'exporterPrometheusPort',
    'OTEL_EXPORTER_PROMETHEUS_PORT',
    0,
    65535,
    'Prometheus port (0: any free port)',
  ),
  count('blrpScheduleDelay', 'OTEL_BLRP_SCHEDULE_DELAY', 0, MAX_INT, 'ms between log record exports'),
  count('blrpExportTimeout', 'OTEL_BLRP_EXPORT_TIMEOUT', 0, MAX_INT, 'ms a log record export may take'),
  count(
    'blrpMaxQueueSize',
    'OTEL_BLRP_MAX_QUEUE_SIZE',
    1,
    MAX_INT,
    'log records held before new ones are dropped',
  ),
  count('blrpMaxExportBatchSize', 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', 1, MAX_INT, 'log records per export'),
  count(
    'logrecordAttributeCountLimit',
    'OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT',
    0,
    MAX_INT,
    'attributes per log record',
  ),
  count(
    'logrecordAttributeValueLengthLimit',
    'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    0,
    MAX_INT,
    'characters per log record attribute value',
  ),
  ...perSignal('metrics'),
  ...perSignal('logs'),
  flag({
    key: 'processSpan',
    env: 'OTEL_RUN_PROCESS_SPAN',
    group: 'otel-run',
    description: 'one span for the whole process run, with the work of the process under it',
  }),
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
