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
  ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ExitFlush } from '../exit/shutdown';
import { otlpSlot, type Slot } from '../export/slot';
import { selected } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import { redactUrls } from '../util/redact';
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
  slot: Slot<ResourceMetrics>;
  reader: MetricReader;
  /** Collects and exports now; true when the export was accepted. */
  exportNow(): Promise<boolean>;
}

type Sdk = typeof import('@opentelemetry/sdk-metrics');
type Selector = (type: InstrumentType) => number;

const SUCCESS = 0;

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
}

/**
 * The SDK's PeriodicExportingMetricReader, without its one flaw here: it bounds each export with a ref'd
 * timer (sdk-metrics callWithTimeout), so an export in flight at the end held the process for the whole
 * timeout. Same OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT semantics; every timer is unref'd, exports run with
 * tracing suppressed, one at a time.
 */
function periodicReader(sdk: Sdk, slot: Slot<ResourceMetrics>, options: ReaderOptions): PushReader {
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');

  const send = (metrics: ResourceMetrics) =>
    new Promise<string | undefined>((resolve) => {
      const guard = setTimeout(() => resolve(`no answer within ${options.timeout} ms`), options.timeout);
      guard.unref();
      api.context.with(suppressTracing(api.context.active()), () => {
        try {
          slot.exporter().export(metrics, (result) => {
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
          redactUrls(`exporting metrics (${slot.label}) failed: ${why} — the next export sends them again`),
        );
      return why === undefined;
    }
    protected override async onForceFlush(): Promise<void> {
      await this.exportNow();
    }
    protected override async onShutdown(): Promise<void> {
      if (this.timer) clearInterval(this.timer);
      await this.exportNow();
      await slot.shutdown();
    }
  }
  const reader = new Reader();
  return { slot, reader, exportNow: () => reader.exportNow() };
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
        const slot = otlpSlot<ResourceMetrics>(settings, 'metrics', () => 'metrics');
        push.push(periodicReader(sdk, slot, { interval, timeout, temporality }));
      } else if (name === 'console') {
        const cumulative = () => sdk.AggregationTemporality.CUMULATIVE;
        const { consoleMetricSlot } = require('../export/console') as typeof import('../export/console');
        push.push(periodicReader(sdk, consoleMetricSlot(), { interval, timeout, temporality: cumulative }));
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
    labels.push(p.slot.label);
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
            `collecting the last metrics (${p.slot.label}) at ${why} failed: unknown SDK state — they are lost`,
          );
          continue;
        }
        if (metrics.scopeMetrics.length === 0) continue;
        log.debug(`${why}: sending metrics (${p.slot.label}) within ${left} ms`);
        try {
          p.slot.exportSync(metrics, left);
        } catch (err) {
          log.warn(`sending the last metrics (${p.slot.label}) failed: ${log.reason(err)} — they are lost`);
        }
      }
    },
  };
}
