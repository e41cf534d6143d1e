// The metrics signal: one MeterProvider with a reader per OTEL_METRICS_EXPORTER entry (otlp over the chosen
// protocol, prometheus, console on stderr). Built with the tracing SDK, and only when a metrics exporter is
// selected: with OTEL_METRICS_EXPORTER=none nothing of sdk-metrics is ever loaded. Pending metrics leave by
// the same exit paths as spans (exit/shutdown.ts): an async flush at beforeExit, a synchronous collect and post on
// the exit and signal paths (sdk/metrics-sync.ts, export/send-sync.ts). OTLP/HTTP requests go out with unref'd sockets and
// timers (export/send.ts), so an export in flight never holds an ending app open.
import type { Resource } from '@opentelemetry/resources';
import type {
  InstrumentType,
  MeterProvider,
  MetricReader,
  PushMetricExporter,
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ExitFlush } from '../exit/shutdown';
import { otlpTarget, selected } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';

export interface MetricsSdk {
  meterProvider: MeterProvider;
  /** For messages and `doctor`: one per reader. */
  readers: string[];
  exitFlush: ExitFlush;
  /** Set once the Prometheus endpoint listens (port 0 picks a free port). */
  prometheusUrl?: string;
}

interface PushReader {
  label: string;
  reader: MetricReader;
  /** Collects and exports now; true when the export was accepted. */
  exportNow(): Promise<boolean>;
  /** Delivers before returning; false when it could not (grpc has no synchronous path). */
  exportSync(metrics: ResourceMetrics, timeoutMs: number): boolean;
}

type Sdk = typeof import('@opentelemetry/sdk-metrics');
type Selector = (type: InstrumentType) => number;

const SUCCESS = 0;

/** Writes metrics to stderr: stdout belongs to the app (the stock ConsoleMetricExporter uses stdout). */
class StderrMetricExporter implements PushMetricExporter {
  export(metrics: ResourceMetrics, done: (r: { code: number }) => void): void {
    this.write(metrics);
    done({ code: SUCCESS });
  }
  write(metrics: ResourceMetrics): void {
    const { inspect } = require('node:util') as typeof import('node:util');
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const record = {
          descriptor: metric.descriptor,
          dataPointType: metric.dataPointType,
          dataPoints: metric.dataPoints,
        };
        try {
          process.stderr.write(`${inspect(record, { depth: 6, breakLength: 120, colors: false })}\n`);
        } catch {}
      }
    }
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, as the spec's table (and the official exporter). */
function temporalitySelector(sdk: Sdk, preference: string): Selector {
  const { AggregationTemporality: T, InstrumentType: I } = sdk;
  if (preference === 'delta')
    return (type) =>
      type === I.UP_DOWN_COUNTER || type === I.OBSERVABLE_UP_DOWN_COUNTER ? T.CUMULATIVE : T.DELTA;
  if (preference === 'lowmemory')
    return (type) => (type === I.COUNTER || type === I.HISTOGRAM ? T.DELTA : T.CUMULATIVE);
  return () => T.CUMULATIVE;
}

interface ReaderOptions {
  interval: number;
  timeout: number;
  temporality: Selector;
  label: string;
}

/**
 * The SDK's PeriodicExportingMetricReader, without its one flaw here: it bounds each export with a ref'd
 * timer (sdk-metrics callWithTimeout), so an export in flight at the end held the process for the whole
 * timeout. Same OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT semantics; every timer is unref'd, exports run with
 * tracing suppressed, one at a time.
 */
function periodicReader(
  sdk: Sdk,
  exporter: PushMetricExporter,
  options: ReaderOptions,
): { reader: MetricReader; exportNow(): Promise<boolean> } {
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');

  const send = (metrics: ResourceMetrics) =>
    new Promise<string | undefined>((resolve) => {
      const guard = setTimeout(() => resolve(`no answer within ${options.timeout} ms`), options.timeout);
      guard.unref();
      api.context.with(suppressTracing(api.context.active()), () => {
        try {
          exporter.export(metrics, (result) => {
            clearTimeout(guard);
            resolve(result.code === SUCCESS ? undefined : log.reason(result.error ?? 'export failed'));
          });
        } catch (err) {
          clearTimeout(guard);
          resolve(log.reason(err));
        }
      });
    });

  class Reader extends sdk.MetricReader {
    private timer: NodeJS.Timeout | undefined;
    private running: Promise<boolean> | undefined;
    constructor() {
      super({ aggregationTemporalitySelector: options.temporality as never });
    }
    protected override onInitialized(): void {
      this.timer = setInterval(() => {
        this.exportNow().catch(() => {});
      }, options.interval);
      this.timer.unref();
    }
    exportNow(): Promise<boolean> {
      this.running ??= this.run().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    private async run(): Promise<boolean> {
      const { resourceMetrics } = await this.collect();
      if (resourceMetrics.scopeMetrics.length === 0) return true;
      const resource = resourceMetrics.resource as {
        asyncAttributesPending?: boolean;
        waitForAsyncAttributes?: () => Promise<void>;
      };
      if (resource.asyncAttributesPending) await resource.waitForAsyncAttributes?.().catch(() => {});
      const why = await send(resourceMetrics);
      if (why)
        log.warnExport(
          `exporting metrics (${options.label}) failed: ${why} — the next export sends them again`,
        );
      return why === undefined;
    }
    protected override async onForceFlush(): Promise<void> {
      await this.exportNow();
    }
    protected override async onShutdown(): Promise<void> {
      if (this.timer) clearInterval(this.timer);
      await this.exportNow();
      await exporter.shutdown();
    }
  }
  const reader = new Reader();
  return { reader, exportNow: () => reader.exportNow() };
}

function otlpReader(settings: Settings, sdk: Sdk, options: Omit<ReaderOptions, 'label'>): PushReader {
  const target = otlpTarget(settings, 'metrics');
  const label = `otlp ${target.protocol} to ${target.url}`;
  if (target.protocol === 'grpc') {
    const { OTLPMetricExporter } = (
      require('../util/optional') as typeof import('../util/optional')
    ).requireOptional<typeof import('@opentelemetry/exporter-metrics-otlp-grpc')>(
      '@opentelemetry/exporter-metrics-otlp-grpc',
    );
    const exporter = new OTLPMetricExporter({
      url: target.url,
      timeoutMillis: target.timeoutMillis,
      compression: target.compression as never,
    }) as unknown as PushMetricExporter;
    return {
      label,
      ...periodicReader(sdk, exporter, { ...options, label }),
      exportSync(metrics) {
        // No synchronous gRPC: the export starts and is lost if the process ends first (as for spans).
        exporter.export(metrics, () => {});
        return false;
      },
    };
  }
  const json = target.protocol === 'http/json';
  const full = {
    ...target,
    ca: settings.exporterOtlpCertificate,
    cert: settings.exporterOtlpClientCertificate,
    key: settings.exporterOtlpClientKey,
  };
  const { createPostingExporter, postSerialized } =
    require('../export/otlp') as typeof import('../export/otlp');
  const exporter = createPostingExporter<ResourceMetrics>('metrics', json, full);
  return {
    label,
    ...periodicReader(sdk, exporter as unknown as PushMetricExporter, { ...options, label }),
    exportSync(metrics, timeoutMs) {
      const outcome = postSerialized('metrics', json, metrics, full, timeoutMs);
      if (!outcome.ok)
        log.warnExport(`sending the last metrics to ${target.url} failed: ${outcome.reason} — they are lost`);
      return outcome.ok;
    },
  };
}

export function createMetrics(settings: Settings, resource: Resource): MetricsSdk {
  const sdk = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const interval = settings.metricExportInterval;
  let timeout = settings.metricExportTimeout;
  if (timeout > interval) {
    // As the SDK's reader: an export must end before the next one starts.
    log.debug(`OTEL_METRIC_EXPORT_TIMEOUT ${timeout} ms is longer than the interval: using ${interval} ms`);
    timeout = interval;
  }
  const temporality = temporalitySelector(sdk, settings.exporterOtlpMetricsTemporalityPreference);

  const push: PushReader[] = [];
  const readers: MetricReader[] = [];
  const labels: string[] = [];
  let prometheus: import('@opentelemetry/exporter-prometheus').PrometheusExporter | undefined;
  for (const name of selected(settings.metricsExporter)) {
    try {
      if (name === 'otlp') {
        push.push(otlpReader(settings, sdk, { interval, timeout, temporality }));
      } else if (name === 'console') {
        const exporter = new StderrMetricExporter();
        const cumulative = () => sdk.AggregationTemporality.CUMULATIVE;
        push.push({
          label: 'console (stderr)',
          ...periodicReader(sdk, exporter, { interval, timeout, temporality: cumulative, label: 'console' }),
          exportSync(metrics) {
            exporter.write(metrics);
            return true;
          },
        });
      } else if (name === 'prometheus') {
        const { PrometheusExporter } =
          require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
        prometheus = new PrometheusExporter({ preventServerStart: true });
        readers.push(prometheus);
        labels.push('prometheus');
      }
    } catch (err) {
      log.warn(
        `setting up the ${name} metrics exporter failed: ${log.reason(err)} — metrics do not go there`,
      );
    }
  }
  for (const p of push) {
    readers.push(p.reader);
    labels.push(p.label);
  }
  const meterProvider = new sdk.MeterProvider({ resource, readers });
  const out: MetricsSdk = { meterProvider, readers: labels, exitFlush: exitFlush(push) };
  if (prometheus) {
    const { servePrometheus } = require('./prometheus') as typeof import('./prometheus');
    const { exporterPrometheusHost: host, exporterPrometheusPort: port } = settings;
    servePrometheus(prometheus, resource, host, port, (url) => {
      out.prometheusUrl = url;
    });
  }
  return out;
}

/**
 * Metrics are never "empty" like a span queue: a flush always collects. So the beforeExit flush runs once per
 * quiet moment: after it completes, the next beforeExit (caused by the flush's own request ending) does not
 * start another, and the exit that follows does not collect again unless that flush failed; work the app
 * schedules after that gets its own flush at the next beforeExit.
 */
function exitFlush(push: PushReader[]): ExitFlush {
  let justFlushed = false;
  let clean = false;
  return {
    hasPending() {
      if (push.length === 0) return false;
      if (justFlushed) {
        justFlushed = false;
        return false;
      }
      return true;
    },
    async flush() {
      clean = false;
      const results = await Promise.all(push.map((p) => p.exportNow().catch(() => false)));
      justFlushed = true;
      clean = results.every(Boolean);
    },
    flushSync(why, timeoutMs) {
      if (clean || push.length === 0) return;
      const { collectSync } = require('./metrics-sync') as typeof import('./metrics-sync');
      const started = Date.now();
      for (const p of push) {
        const left = timeoutMs - (Date.now() - started);
        let metrics: ResourceMetrics | undefined;
        try {
          metrics = collectSync(p.reader);
        } catch (err) {
          log.debug(`${why}: collecting metrics: ${log.reason(err)}`);
        }
        if (!metrics) {
          log.warn(
            `collecting the last metrics (${p.label}) at ${why} failed: unknown SDK state — they are lost`,
          );
          continue;
        }
        if (metrics.scopeMetrics.length === 0) continue;
        log.debug(`${why}: sending metrics (${p.label}) within ${left} ms`);
        try {
          p.exportSync(metrics, left);
        } catch (err) {
          log.warn(`sending the last metrics (${p.label}) failed: ${log.reason(err)} — they are lost`);
        }
      }
    },
  };
}
