// Builds and registers the tracing SDK from the settings. Called the first time something could make a span
// (an instrumented library is required, or the app requires @opentelemetry/api), never at start: a process
// that makes no span never pays for the SDK.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { installShutdown } from '../exit/shutdown';
import { BatchProcessor } from '../export/batch-processor';
import { createSlots } from '../export/slots';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';
import { buildResource } from './resource';
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
}

const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** A tracer provider registered by someone else (another agent, or the app before us). */
export function foreignProviderRegistered(): boolean {
  const g = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[API_GLOBAL];
  return !!g?.trace;
}

function versionOf(entryFile: string): number[] {
  // The API's "exports" hides its package.json: find it above the resolved entry file.
  let dir = path.dirname(entryFile);
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === '@opentelemetry/api')
        return (pkg.version ?? '0').split('.').map((n) => Number.parseInt(n, 10) || 0);
    } catch {}
    const parent = path.dirname(dir);
    if (parent === dir) return [0];
    dir = parent;
  }
}

function newer(a: number[], b: number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

/**
 * The API copy to register through. The API's global registry accepts readers whose minor version is at most
 * the registering copy's, so registering through the newest copy in the process serves every copy: an app
 * on api 1.10 with otel-run on 1.9 still sees our provider.
 */
function chooseApi(ctx: SdkContext): Api {
  const ours = require.resolve('@opentelemetry/api');
  let best = ours;
  const from = [ctx.entry ? path.dirname(ctx.entry) : undefined, ctx.cwd].filter((p): p is string => !!p);
  try {
    const theirs = require.resolve('@opentelemetry/api', { paths: from });
    if (theirs !== ours && newer(versionOf(theirs), versionOf(ours))) best = theirs;
  } catch {
    // The app has no API copy of its own.
  }
  return require(best) as Api;
}

function ratio(settings: Settings): number {
  const raw = settings.tracesSamplerArg;
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    log.warn(
      `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(raw)} is not valid: expected a number from 0 to 1 — using 1`,
    );
    return 1;
  }
  return n;
}

function buildSampler(settings: Settings): Sampler {
  const base = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  switch (settings.tracesSampler) {
    case 'always_on':
      return new base.AlwaysOnSampler();
    case 'always_off':
      return new base.AlwaysOffSampler();
    case 'traceidratio':
      return new base.TraceIdRatioBasedSampler(ratio(settings));
    case 'parentbased_always_off':
      return new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(ratio(settings)) });
    default:
      return new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() });
  }
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

/** Writes the SDK's own diagnostics to stderr (the stock DiagConsoleLogger writes to stdout). */
function stderrDiag(api: Api, level: Settings['logLevel']): void {
  const write =
    (tag: string) =>
    (message: string, ...args: unknown[]) => {
      // The SDK re-reads some OTEL_* variables itself and complains in its own words (and with the raw
      // value): settings/table.ts already said it once, in the house format.
      if (typeof message === 'string' && /\bOTEL_[A-Z0-9_]+/.test(message)) return;
      try {
        const { format } = require('node:util') as typeof import('node:util');
        log.writeStderr(`otel-run: [${tag}] ${format(message, ...args)}\n`);
      } catch {}
    };
  const levels: Record<Settings['logLevel'], number> = {
    none: api.DiagLogLevel.NONE,
    error: api.DiagLogLevel.ERROR,
    warn: api.DiagLogLevel.WARN,
    info: api.DiagLogLevel.INFO,
    debug: api.DiagLogLevel.DEBUG,
    verbose: api.DiagLogLevel.VERBOSE,
    all: api.DiagLogLevel.ALL,
  };
  api.diag.setLogger(
    {
      error: write('error'),
      warn: write('warn'),
      info: write('info'),
      debug: write('debug'),
      verbose: write('verbose'),
    },
    { logLevel: levels[level], suppressOverrideMessage: true },
  );
}

export function createSdk(ctx: SdkContext): Sdk {
  const { settings } = ctx;
  const api = chooseApi(ctx);
  if (ctx.explicitLogLevel) stderrDiag(api, settings.logLevel);

  const { NodeTracerProvider } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');

  const slots = createSlots(settings);
  const processors = slots.map(
    (slot) =>
      new BatchProcessor(slot, {
        scheduleDelay: Math.min(settings.bspScheduleDelay, slot.maxDelay ?? Number.POSITIVE_INFINITY),
        exportTimeout: settings.bspExportTimeout,
        maxQueueSize: settings.bspMaxQueueSize,
        // The spec: a batch larger than the queue makes no sense.
        maxExportBatchSize: Math.min(settings.bspMaxExportBatchSize, settings.bspMaxQueueSize),
      }),
  );
  const resource = buildResource(settings, { entry: ctx.entry, cwd: ctx.cwd, version: ctx.version });
  const provider = new NodeTracerProvider({
    resource,
    sampler: buildSampler(settings),
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
