// A signal's pipeline as data: the processors (spans, log records) or readers (metrics) and where each one
// exports. The OTEL_* settings describe one fixed shape of it; the OpenTelemetry configuration file
// (register/otel-config/) any number of processors, each with its own exporter, target and batch options.
// sdk/tracing.ts, sdk/metrics.ts and sdk/logs.ts build from it either way, with otel-run's own batch
// processors, so the exit guarantees are the same whichever way a process was configured.
import type { BatchOptions } from './batch-processor';
import type { OtlpTarget } from './target';

export type ExporterPlan =
  | { type: 'otlp'; target: OtlpTarget }
  | { type: 'console' }
  | { type: 'zipkin'; url: string };

export interface ProcessorPlan {
  /** `simple`: each item leaves as it ends (a batch of one, no delay), through the same queue. */
  kind: 'batch' | 'simple';
  exporter: ExporterPlan;
  options: BatchOptions;
}

export type MetricExporterPlan = { type: 'otlp'; target: OtlpTarget } | { type: 'console' };

export type ReaderPlan =
  | {
      kind: 'periodic';
      exporter: MetricExporterPlan;
      interval: number;
      timeout: number;
      /** cumulative, delta or lowmemory (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE's values). */
      temporality: string;
    }
  | { kind: 'prometheus'; host?: string; port: number };

/**
 * A simple processor's options: every item is exported as soon as it ends (one at a time while an export
 * is in flight), but it still sits in otel-run's queue, so the exit path can hand over what is pending.
 */
export function simpleOptions(exportTimeout: number): BatchOptions {
  return { scheduleDelay: 0, exportTimeout, maxQueueSize: 2048, maxExportBatchSize: 1 };
}

/** A metric view (the file's `meter_provider.views`), free of SDK types: sdk/metrics.ts builds it. */
export interface ViewPlan {
  instrumentName?: string;
  /** sdk-metrics' InstrumentType value: COUNTER, HISTOGRAM, … */
  instrumentType?: string;
  instrumentUnit?: string;
  meterName?: string;
  meterVersion?: string;
  meterSchemaUrl?: string;
  name?: string;
  description?: string;
  aggregation?: {
    kind:
      | 'default'
      | 'drop'
      | 'sum'
      | 'last_value'
      | 'explicit_bucket_histogram'
      | 'base2_exponential_bucket_histogram';
    boundaries?: number[];
    recordMinMax?: boolean;
    maxSize?: number;
  };
  cardinalityLimit?: number;
  attributeKeys?: { included?: string[]; excluded?: string[] };
}

/** What the configuration file decides beyond the settings: the SDK builds from this instead. */
export interface DeclaredPipelines {
  /** The file's path, for messages. */
  file: string;
  spans: ProcessorPlan[];
  logs: ProcessorPlan[];
  readers: ReaderPlan[];
  views: ViewPlan[];
  sampler: import('../sdk/sampler').SamplerSpec;
  /** Typed resource attributes (the settings carry them as strings, for the service name). */
  resourceAttributes: import('@opentelemetry/api').Attributes;
  /** True when the file sets log_level (the SDK's diagnostics then follow it, as with OTEL_LOG_LEVEL). */
  logLevelGiven: boolean;
}
