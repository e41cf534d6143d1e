// The metrics signal: one MeterProvider with a reader per OTEL_METRICS_EXPORTER entry (otlp over the chosen
// protocol, prometheus, console on stderr). Built with the tracing SDK, and only when a metrics exporter is
// selected: with OTEL_METRICS_EXPORTER=none nothing of sdk-metrics is ever loaded. Pending metrics leave by
// the same exit paths as spans (exit/shutdown.ts): a synchronous collect and post on
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
import type { ReaderPlan, ViewPlan } from '../export/pipeline';
import { otlpSlotTo, type Slot } from '../export/slot';
import { otlpTarget } from '../export/target';
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

/** OTEL_METRICS_EXPORTER and the OTEL_METRIC_* settings as readers (export/pipeline.ts). */
function readersFromSettings(settings: Settings): ReaderPlan[] {
  const out: ReaderPlan[] = [];
  const every = { interval: settings.metricExportInterval, timeout: settings.metricExportTimeout };
  for (const name of selected(settings.metricsExporter)) {
    if (name === 'otlp')
      out.push({
        kind: 'periodic',
        exporter: { type: 'otlp', target: otlpTarget(settings, 'metrics') },
        ...every,
        temporality: settings.exporterOtlpMetricsTemporalityPreference,
      });
    else if (name === 'console')
      out.push({ kind: 'periodic', exporter: { type: 'console' }, ...every, temporality: 'cumulative' });
    else if (name === 'prometheus')
      out.push({
        kind: 'prometheus',
        host: settings.exporterPrometheusHost,
        port: settings.exporterPrometheusPort,
      });
  }
  return out;
}

/** The configuration file's views as the SDK's. */
function viewOptions(sdk: Sdk, views: ViewPlan[]): import('@opentelemetry/sdk-metrics').ViewOptions[] {
  const { AggregationType: A } = sdk;
  return views.map((v) => {
    const a = v.aggregation;
    let aggregation: import('@opentelemetry/sdk-metrics').AggregationOption | undefined;
    if (a?.kind === 'drop') aggregation = { type: A.DROP };
    else if (a?.kind === 'sum') aggregation = { type: A.SUM };
    else if (a?.kind === 'last_value') aggregation = { type: A.LAST_VALUE };
    else if (a?.kind === 'explicit_bucket_histogram')
      aggregation = a.boundaries
        ? {
            type: A.EXPLICIT_BUCKET_HISTOGRAM,
            options: { boundaries: a.boundaries, recordMinMax: a.recordMinMax },
          }
        : { type: A.EXPLICIT_BUCKET_HISTOGRAM };
    else if (a?.kind === 'base2_exponential_bucket_histogram')
      aggregation = {
        type: A.EXPONENTIAL_HISTOGRAM,
        options: { maxSize: a.maxSize, recordMinMax: a.recordMinMax },
      };
    const processors: import('@opentelemetry/sdk-metrics').IAttributesProcessor[] = [];
    if (v.attributeKeys?.included)
      processors.push(sdk.createAllowListAttributesProcessor(v.attributeKeys.included));
    if (v.attributeKeys?.excluded)
      processors.push(sdk.createDenyListAttributesProcessor(v.attributeKeys.excluded));
    const options: Record<string, unknown> = {
      instrumentName: v.instrumentName,
      instrumentType: v.instrumentType,
      instrumentUnit: v.instrumentUnit,
      meterName: v.meterName,
      meterVersion: v.meterVersion,
      meterSchemaUrl: v.meterSchemaUrl,
      name: v.name,
      description: v.description,
      aggregation,
      aggregationCardinalityLimit: v.cardinalityLimit,
      attributesProcessors: processors.length ? processors : undefined,
    };
    for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
    return options as import('@opentelemetry/sdk-metrics').ViewOptions;
  });
}

/** `plans`, `views`: the configuration file's readers and views; without them, the settings'. */
export function createMetrics(
  settings: Settings,
  resource: Resource,
  plans?: ReaderPlan[],
  views: ViewPlan[] = [],
): MetricsSdk {
  const sdk = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const push: PushReader[] = [];
  const readers: MetricReader[] = [];
  const labels: string[] = [];
  let prometheus: import('@opentelemetry/exporter-prometheus').PrometheusExporter | undefined;
  let listen: { host?: string; port: number } | undefined;
  for (const plan of plans ?? readersFromSettings(settings)) {
    const name = plan.kind === 'prometheus' ? 'prometheus' : plan.exporter.type;
    try {
      if (plan.kind === 'prometheus') {
        const { PrometheusExporter } =
          require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
        prometheus = new PrometheusExporter({ preventServerStart: true });
        listen = { host: plan.host, port: plan.port };
        readers.push(prometheus);
        labels.push('prometheus');
        continue;
      }
      const { interval } = plan;
      let timeout = plan.timeout;
      if (timeout > interval) {
        // As the SDK's reader: an export must end before the next one starts.
        log.debug(`metric export timeout ${timeout} ms is longer than the interval: using ${interval} ms`);
        timeout = interval;
      }
      if (plan.exporter.type === 'otlp') {
        const slot = otlpSlotTo<ResourceMetrics>(plan.exporter.target, 'metrics', () => 'metrics');
        const temporality = temporalitySelector(sdk, plan.temporality);
        push.push(periodicReader(sdk, slot, { interval, timeout, temporality }));
      } else {
        const cumulative = () => sdk.AggregationTemporality.CUMULATIVE;
        const { consoleMetricSlot } = require('../export/console') as typeof import('../export/console');
        push.push(periodicReader(sdk, consoleMetricSlot(), { interval, timeout, temporality: cumulative }));
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
  const meterProvider = new sdk.MeterProvider({
    resource,
    readers,
    ...(views.length ? { views: viewOptions(sdk, views) } : {}),
  });
  const out: MetricsSdk = { meterProvider, readers: labels, exitFlush: exitFlush(push) };
  if (prometheus && listen) {
    const { servePrometheus } = require('./prometheus') as typeof import('./prometheus');
    servePrometheus(prometheus, resource, listen.host, listen.port, (url) => {
      out.prometheusUrl = url;
    });
  }
  return out;
}

/**
 * Metrics are never "empty" like a span queue: a flush always collects. The asynchronous flush (started when
 * a signal reaches an app that handles it) runs once per quiet moment, and the exit that follows does not
 * collect again unless that flush failed.
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
