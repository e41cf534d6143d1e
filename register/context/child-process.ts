// Trace context to child processes: child_process.spawn/exec/execFile/fork and their Sync variants (and so
// execa, cross-spawn, … which call them) give the child TRACEPARENT / TRACESTATE / BAGGAGE for the span current
// at the call, so a Node child under otel-run (or any program that reads the variables) continues the trace.
// Computed per call: each child gets the span that started it. The caller's options and env objects are never
// changed (the child gets a copy); with no span current, or no propagator, the call goes through untouched.
import type { Context } from '@opentelemetry/api';
import * as log from '../util/stderr';
import { envName } from './env-context';

type Api = typeof import('@opentelemetry/api');

export interface ContextSource {
  api: Api;
  /** The context the environment gave this process: children inherit that unchanged already. */
  fromEnv: Context | undefined;
}

let source: ContextSource | undefined;

/** Set once the SDK exists; before that no span can be current, and calls pass through. */
export function setContextSource(s: ContextSource): void {
  source = s;
}

const PATCHED = Symbol.for('otel-run.child_process');
/** Functions whose second argument may be an args array (the options come after it). */
const WITH_ARGS = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork'] as const;
const WITHOUT_ARGS = ['exec', 'execSync'] as const;

function isOptions(v: unknown): v is { env?: NodeJS.ProcessEnv } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface Carrier {
  /** TRACEPARENT etc., as the configured propagators write them. */
  vars: Record<string, string>;
  /** Every variable the propagators may use: all are replaced together. */
  names: string[];
}

/** The variables to set for a child started now, or undefined when nothing should change. */
export function carrierForNow(s: ContextSource | undefined = source): Carrier | undefined {
  if (!s) return undefined;
  const { api } = s;
  const active = api.context.active();
  if (active === s.fromEnv) return undefined;
  const spanContext = api.trace.getSpanContext(active);
  if (!spanContext || !api.trace.isSpanContextValid(spanContext)) return undefined;
  const vars: Record<string, string> = {};
  api.propagation.inject(active, vars, {
    set: (c, key, value) => {
      c[envName(key)] = value;
    },
  });
  if (Object.keys(vars).length === 0) return undefined;
  return { vars, names: api.propagation.fields().map(envName) };
}

/** The arguments with the options' env replaced by a copy that carries the current context. */
export function withContext(fn: string, args: unknown[], carrier: Carrier): unknown[] {
  let i = 1;
  if ((WITH_ARGS as readonly string[]).includes(fn) && (Array.isArray(args[1]) || args[1] == null)) i = 2;
  const given = args[i];
  let options: { env?: NodeJS.ProcessEnv };
  const out = args.slice();
  if (isOptions(given)) options = given;
  else if (given == null) options = {};
  else if (typeof given === 'function') {
    options = {};
    out.splice(i, 0, options);
  } else return args; // Not a shape Node accepts: let Node say so, unchanged.
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  // The whole set is replaced: a TRACESTATE or BAGGAGE inherited from our own parent must not be mixed
  // with the new TRACEPARENT.
  for (const name of carrier.names) delete env[name];
  Object.assign(env, carrier.vars);
  out[i] = { ...options, env };
  return out;
}

function wrap<F extends (...a: unknown[]) => unknown>(name: string, original: F, skip?: symbol): F {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    let next = args;
    try {
      const carrier = carrierForNow();
      if (carrier) next = withContext(name, args, carrier);
    } catch {
      next = args;
    }
    return original.apply(this, next);
  };
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'prototype' || key === skip) continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor) Object.defineProperty(wrapped, key, descriptor);
  }
  return wrapped as unknown as F;
}

/** Wraps the exports of child_process in place (once), so CommonJS callers and ES module bindings see it. */
export function patchChildProcess(): void {
  try {
    const cp = require('node:child_process') as Record<string | symbol, unknown>;
    if (cp[PATCHED]) return;
    Object.defineProperty(cp, PATCHED, { value: true });
    const { promisify } = require('node:util') as typeof import('node:util');
    for (const name of [...WITH_ARGS, ...WITHOUT_ARGS]) {
      const original = cp[name] as ((...a: unknown[]) => unknown) & Record<symbol, unknown>;
      if (typeof original !== 'function') continue;
      const wrapped = wrap(name, original, promisify.custom);
      // exec and execFile have a custom promisified form that calls Node's internal function directly.
      const custom = original[promisify.custom];
      if (typeof custom === 'function') {
        Object.defineProperty(wrapped, promisify.custom, {
          value: wrap(name, custom as (...a: unknown[]) => unknown),
          enumerable: false,
          configurable: true,
          writable: false,
        });
      }
      cp[name] = wrapped;
    }
    (require('node:module') as typeof import('node:module')).syncBuiltinESMExports();
  } catch (err) {
    log.warn(
      `passing the trace context to child processes failed: ${log.reason(err)} — child processes start their own traces`,
    );
  }
}
