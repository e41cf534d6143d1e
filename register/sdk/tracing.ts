// Builds and registers the tracing SDK from the settings. Called the first time something could make a span
// (an instrumented library is required, or the app requires @opentelemetry/api), never at start: a process
// that makes no span never pays for the SDK.
import * as path from 'node:path';
import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { installShutdown } from '../exit/shutdown';
import { type BatchOptions, BatchProcessor } from '../export/batch-processor';
import type { DeclaredPipelines } from '../export/pipeline';
import { createTraceSlots, type TraceSlot, traceSlotFor } from '../export/trace-slots';
import type { Settings } from '../settings/table';
import { chooseApi, type Reader } from './api-copies';
import { buildResource } from './resource';
import { buildSampler, samplerFromSettings } from './sampler';
import { startSignals } from './telemetry';

type Api = typeof import('@opentelemetry/api');

export interface Sdk {
  api: Api;
  tracerProvider: TracerProvider;
  processors: BatchProcessor[];
  exporters: string[];
  /** Set when a metrics exporter is selected (sdk/telemetry.ts). */
  meterProvider?: import('@opentelemetry/api').MeterProvider;
  signals?: import('./telemetry').Signals;
}

export interface SdkContext {
  settings: Settings;
  explicitLogLevel: boolean;
  entry?: string;
  cwd: string;
  version: string;
  /** Set when OTEL_CONFIG_FILE configured the process (register/otel-config/). */
  declared?: DeclaredPipelines;
  /** Enabled instrumentors' package folders: each may resolve its own @opentelemetry/api copy. */
  instrumentors?: ReadonlyArray<{ name: string; dir: string }>;
}

const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** A tracer provider registered by someone else (another agent, or the app before us). */
export function foreignProviderRegistered(): boolean {
  const g = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[API_GLOBAL];
  return !!g?.trace;
}

/** Who reads the API besides otel-run: the app (from its entry and cwd) and each enabled instrumentor. */
function apiReaders(ctx: SdkContext): Reader[] {
  const app = [ctx.entry ? path.dirname(ctx.entry) : undefined, ctx.cwd].filter((p): p is string => !!p);
  return [
    ...app.map((dir) => ({ who: 'the app', dir })),
    ...(ctx.instrumentors ?? []).map((i) => ({ who: `instrumentor ${i.name}`, dir: i.dir, package: true })),
  ];
}

function buildPropagator(settings: Settings): TextMapPropagator | undefined {
  const names = settings.propagators.includes('none') ? [] : [...new Set(settings.propagators)];
  if (names.length === 0) return undefined;
  const core = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const list: TextMapPropagator[] = [];
  for (const name of names) {
    if (name === 'tracecontext') list.push(new core.W3CTraceContextPropagator());
    else if (name === 'baggage') list.push(new core.W3CBaggagePropagator());
    else if (name === 'b3' || name === 'b3multi') {
      const b3 = require('@opentelemetry/propagator-b3') as typeof import('@opentelemetry/propagator-b3');
      list.push(
        new b3.B3Propagator({
          injectEncoding:
            name === 'b3' ? b3.B3InjectEncoding.SINGLE_HEADER : b3.B3InjectEncoding.MULTI_HEADER,
        }),
      );
    } else if (name === 'jaeger') {
      const { JaegerPropagator } =
        require('@opentelemetry/propagator-jaeger') as typeof import('@opentelemetry/propagator-jaeger');
      list.push(new JaegerPropagator());
    }
  }
  return new core.CompositePropagator({ propagators: list });
}

function spanLimits(s: Settings): Record<string, number> {
  const limits: Record<string, number | undefined> = {
    attributeCountLimit: s.spanAttributeCountLimit ?? s.attributeCountLimit,
    attributeValueLengthLimit: s.spanAttributeValueLengthLimit ?? s.attributeValueLengthLimit,
    eventCountLimit: s.spanEventCountLimit,
    linkCountLimit: s.spanLinkCountLimit,
    attributePerEventCountLimit: s.spanAttributePerEventCountLimit,
    attributePerLinkCountLimit: s.spanAttributePerLinkCountLimit,
  };
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Record<
    string,
    number
  >;
}

export function createSdk(ctx: SdkContext): Sdk {
  const { settings } = ctx;
  const api = chooseApi(apiReaders(ctx));
  if (ctx.explicitLogLevel) {
    const { installDiagLogger } = require('./diag') as typeof import('./diag');
    const { SPECS } = require('../settings/table') as typeof import('../settings/table');
    installDiagLogger(api, settings.logLevel, new Set(SPECS.map((s) => s.env)));
  }

  const { NodeTracerProvider } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');

  const { declared } = ctx;
  const planned: Array<{ slot: TraceSlot; options: BatchOptions }> = declared
    ? declared.spans.map((p) => ({ slot: traceSlotFor(p.exporter), options: p.options }))
    : createTraceSlots(settings).map((slot) => ({
        slot,
        options: {
          scheduleDelay: Math.min(settings.bspScheduleDelay, slot.maxDelay ?? Number.POSITIVE_INFINITY),
          exportTimeout: settings.bspExportTimeout,
          maxQueueSize: settings.bspMaxQueueSize,
          // The spec: a batch larger than the queue makes no sense.
          maxExportBatchSize: Math.min(settings.bspMaxExportBatchSize, settings.bspMaxQueueSize),
        },
      }));
  const slots = planned.map((p) => p.slot);
  const processors = planned.map((p) => new BatchProcessor(p.slot, p.options));
  const resource = buildResource(
    settings,
    { entry: ctx.entry, cwd: ctx.cwd, version: ctx.version },
    declared?.resourceAttributes,
  );
  const provider = new NodeTracerProvider({
    resource,
    sampler: buildSampler(declared?.sampler ?? samplerFromSettings(settings)),
    spanLimits: spanLimits(settings),
    spanProcessors: processors,
  });

  // AsyncLocalStorage, falling back to the context TRACEPARENT/BAGGAGE carry (context/env-context.ts).
  const contextManager = (
    require('../context/env-context') as typeof import('../context/env-context')
  ).createContextManager();
  api.context.setGlobalContextManager(contextManager);
  const propagator = buildPropagator(settings);
  if (propagator) api.propagation.setGlobalPropagator(propagator);
  api.trace.setGlobalTracerProvider(provider);
  const signals = startSignals({
    api,
    settings,
    resource,
    tracerProvider: provider,
    contextManager,
    version: ctx.version,
    declared,
  });
  installShutdown(processors, settings.flushTimeout);
  return {
    api,
    tracerProvider: provider,
    processors,
    exporters: slots.map((s) => s.label),
    meterProvider: signals.meterProvider,
    signals,
  };
}
