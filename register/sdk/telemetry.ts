// Everything beside the tracer provider that starts with the SDK (sdk/tracing.ts calls this once): the context
// from the environment and the process span, the metrics and logs signals when an exporter is selected for
// them, the context carried to child processes, and their exit flushes (exit/shutdown.ts). Each part that fails is
// one warning; tracing and the other parts go on.
import type { MeterProvider } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { FallbackContextManager } from '../context/env-context';
import { registerExitFlush } from '../exit/shutdown';
import { logsOn, metricsOn } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';
import type { LogsSdk } from './logs';
import type { MetricsSdk } from './metrics';

type Api = typeof import('@opentelemetry/api');

export interface SignalsContext {
  api: Api;
  settings: Settings;
  resource: Resource;
  tracerProvider: import('@opentelemetry/api').TracerProvider;
  contextManager: FallbackContextManager;
  version: string;
  declared?: import('../export/pipeline').DeclaredPipelines;
}

export interface Signals {
  meterProvider?: MeterProvider;
  metrics?: MetricsSdk;
  logs?: LogsSdk;
}

const NOTHING_PENDING = {
  hasPending: () => false,
  flush: () => Promise.resolve(),
  flushSync() {},
};

export function startSignals(ctx: SignalsContext): Signals {
  const { api, settings } = ctx;
  const out: Signals = {};
  let fromEnv: import('@opentelemetry/api').Context | undefined;
  try {
    const { startProcessRun } = require('../context/env-context') as typeof import('../context/env-context');
    const run = startProcessRun(api, ctx.tracerProvider, settings.processSpan, ctx.version);
    fromEnv = run.fromEnv;
    ctx.contextManager.fallback = run.fallback;
    if (settings.processSpan) registerExitFlush({ ...NOTHING_PENDING, ending: (why) => run.end(why) });
  } catch (err) {
    log.warn(
      `reading the trace context from the environment failed: ${log.reason(err)} — this process starts its own traces`,
    );
  }
  try {
    const cp = require('../context/child-process') as typeof import('../context/child-process');
    cp.setContextSource({ api, fromEnv });
    // CommonJS callers got the wrappers at their first require (main.ts); an ES module import of
    // child_process never goes through require, so patch now too (once; ~1 ms for a builtin).
    cp.patchChildProcess();
  } catch (err) {
    log.warn(
      `passing the trace context to child processes failed: ${log.reason(err)} — child processes start their own traces`,
    );
  }
  if (metricsOn(settings)) {
    try {
      const { createMetrics } = require('./metrics') as typeof import('./metrics');
      out.metrics = createMetrics(settings, ctx.resource, ctx.declared?.readers, ctx.declared?.views);
      out.meterProvider = out.metrics.meterProvider;
      api.metrics.setGlobalMeterProvider(out.meterProvider);
      registerExitFlush(out.metrics.exitFlush);
    } catch (err) {
      log.warn(`setting up metrics failed: ${log.reason(err)} — no metrics are exported`);
    }
  }
  if (logsOn(settings)) {
    try {
      const { registerLogs } = require('./logs') as typeof import('./logs');
      out.logs = registerLogs(settings, ctx.resource, ctx.declared?.logs);
      registerExitFlush(out.logs.exitFlush);
    } catch (err) {
      log.warn(`setting up logs failed: ${log.reason(err)} — no log records are exported`);
    }
  }
  return out;
}
