// The shape of the settings every part of otel-run reads: one field per row of the settings table
// (settings/table.ts for the general rows, settings/endpoints.ts for metrics, logs and context). The types live
// apart from the rows so that the row builders (rows.ts) and both halves of the table can use them without
// importing each other.

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

/** Metrics, logs and the process span: rows in settings/endpoints.ts. */
export interface Settings extends SignalSettings {
  sdkDisabled: boolean;
  logLevel: 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';
  serviceName?: string;
  resourceAttributes: Record<string, string>;
  resourceDetectors: string[];
  enabledInstrumentations?: string[];
  disabledInstrumentations: string[];
  tracesExporter: string[];
  exporterOtlpEndpoint?: string;
  exporterOtlpTracesEndpoint?: string;
  exporterOtlpProtocol: string;
  exporterOtlpTracesProtocol?: string;
  exporterOtlpHeaders: Record<string, string>;
  exporterOtlpTracesHeaders: Record<string, string>;
  exporterOtlpTimeout: number;
  exporterOtlpTracesTimeout?: number;
  exporterOtlpCompression?: string;
  exporterOtlpTracesCompression?: string;
  exporterOtlpCertificate?: string;
  exporterOtlpClientCertificate?: string;
  exporterOtlpClientKey?: string;
  exporterOtlpInsecure?: boolean;
  exporterZipkinEndpoint: string;
  tracesSampler: string;
  tracesSamplerArg?: string;
  propagators: string[];
  bspScheduleDelay: number;
  bspExportTimeout: number;
  bspMaxQueueSize: number;
  bspMaxExportBatchSize: number;
  attributeCountLimit?: number;
  attributeValueLengthLimit?: number;
  spanAttributeCountLimit?: number;
  spanAttributeValueLengthLimit?: number;
  spanEventCountLimit?: number;
  spanLinkCountLimit?: number;
  spanAttributePerEventCountLimit?: number;
  spanAttributePerLinkCountLimit?: number;
  flushTimeout: number;
  strict: boolean;
  /** ES module hooks (register/hooks/esm.ts). */
  esm: 'auto' | 'on' | 'off';
  config?: string;
  /** The OpenTelemetry configuration file (register/otel-config/). */
  otelConfigFile?: string;
}
