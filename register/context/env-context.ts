// Trace context from the environment (the OpenTelemetry spec's environment variables as context carriers:
// TRACEPARENT, TRACESTATE, BAGGAGE). When they are set, the work of this process that no incoming request
// started (a script's top level, timers, a worker loop) belongs to that trace: the context manager falls back
// to the context read from the environment wherever no context is stored. Incoming requests are unchanged:
// the http instrumentation extracts their parent from ROOT_CONTEXT and the request headers, so a server's
// requests keep their own traces. With --process-span (OTEL_RUN_PROCESS_SPAN=true), one span covers the
// process run, from the process start to its exit, and the fallback context holds it.
import * as path from 'node:path';
import type { Context, Span, TracerProvider } from '@opentelemetry/api';
import * as log from '../util/stderr';

type Api = typeof import('@opentelemetry/api');

/** `traceparent` → `TRACEPARENT`, `x-b3-traceid` → `X_B3_TRACEID` (the spec's normalisation). */
export function envName(field: string): string {
  return field.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export interface FallbackContextManager {
  /** The context `active()` returns where none is stored. */
  fallback: Context | undefined;
}

/** AsyncLocalStorageContextManager whose empty store means "the context this process was started in". */
export function createContextManager(): import('@opentelemetry/api').ContextManager & FallbackContextManager {
  const { AsyncLocalStorageContextManager } =
    require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  class EnvFallbackContextManager extends AsyncLocalStorageContextManager implements FallbackContextManager {
    fallback: Context | undefined;
    // A fresh manager has nothing stored: this is ROOT_CONTEXT of the API copy it was built against.
    private readonly root = super.active();
    override active(): Context {
      const current = super.active();
      return current === this.root && this.fallback ? this.fallback : current;
    }
  }
  return new EnvFallbackContextManager().enable();
}

const getter = {
  get: (carrier: NodeJS.ProcessEnv, key: string) => carrier[envName(key)],
  keys: (carrier: NodeJS.ProcessEnv) => Object.keys(carrier),
};

/** The context the environment carries, through the configured propagators; undefined when there is none. */
export function readEnvContext(api: Api, env: NodeJS.ProcessEnv): Context | undefined {
  const fields = api.propagation.fields();
  if (!fields.some((f) => env[envName(f)] !== undefined)) return undefined;
  const ctx = api.propagation.extract(api.ROOT_CONTEXT, env, getter);
  const traceparent = env.TRACEPARENT;
  if (traceparent !== undefined && fields.includes('traceparent') && !api.trace.getSpanContext(ctx)) {
    const shown = JSON.stringify(traceparent.length > 80 ? `${traceparent.slice(0, 77)}...` : traceparent);
    log.warn(
      `TRACEPARENT=${shown} is not valid: expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags> — this process starts its own traces`,
    );
  }
  return ctx === api.ROOT_CONTEXT ? undefined : ctx;
}

export interface ProcessRun {
  /** The context the environment carries (or undefined). */
  fromEnv: Context | undefined;
  /** The context where none is stored: the process span's, else the environment's (or undefined). */
  fallback: Context | undefined;
  /** Ends the process span (once), with the exit code or signal. */
  end(why: string): void;
}

function signalNumber(name: string): number {
  const { constants } = require('node:os') as typeof import('node:os');
  return (constants.signals as Record<string, number | undefined>)[name] ?? 0;
}

/** Reads the environment's context and, when asked, opens the process span under it. */
export function startProcessRun(
  api: Api,
  tracerProvider: TracerProvider,
  processSpan: boolean,
  version: string,
  env: NodeJS.ProcessEnv = process.env,
): ProcessRun {
  const fromEnv = readEnvContext(api, env);
  if (!processSpan) return { fromEnv, fallback: fromEnv, end() {} };
  const script = process.argv[1] ? path.basename(process.argv[1]) : undefined;
  const executable = path.basename(process.execPath);
  const span: Span = tracerProvider.getTracer('otel-run', version).startSpan(
    script ? `${executable} ${script}` : executable,
    {
      kind: api.SpanKind.INTERNAL,
      // The run began when the process did, not when the SDK was built.
      startTime: new Date(performance.timeOrigin),
      attributes: { 'process.pid': process.pid, 'process.executable.name': executable },
    },
    fromEnv ?? api.ROOT_CONTEXT,
  );
  let ended = false;
  return {
    fromEnv,
    fallback: api.trace.setSpan(fromEnv ?? api.ROOT_CONTEXT, span),
    end(why) {
      if (ended) return;
      ended = true;
      const signal = why.startsWith('SIG') ? why : undefined;
      const raw = signal ? 128 + signalNumber(signal) : process.exitCode;
      const code = typeof raw === 'number' ? raw : Number.parseInt(String(raw ?? 0), 10) || 0;
      span.setAttribute('process.exit.code', code);
      if (code !== 0) {
        span.setAttribute('error.type', signal ?? String(code));
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          message: signal ? `terminated by ${signal}` : `exit code ${code}`,
        });
      }
      span.end();
    },
  };
}
