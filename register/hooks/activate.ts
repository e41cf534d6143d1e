// Loads one planned instrumentor and turns it on, whatever shape its export has (discovery/protocol.ts). Any failure
// is one warning and a skipped instrumentor: the app and the other instrumentors go on.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Planned } from '../discovery/plan';
import type { InstrumentOptions, InstrumentorLogger } from '../discovery/protocol';
import * as log from '../util/stderr';

export interface ActivationContext {
  tracerProvider: unknown;
  meterProvider: unknown;
  configFor(name: string): Record<string, unknown>;
}

type Loaded = { kind: 'instrumentation' | 'instrumentor'; value: Record<string, any> };

function isInstrumentation(v: unknown): v is Record<string, any> {
  const o = v as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o === 'object' &&
    typeof o.enable === 'function' &&
    typeof o.disable === 'function' &&
    typeof o.setTracerProvider === 'function'
  );
}

function isInstrumentor(v: unknown): v is Record<string, any> {
  const o = v as Record<string, unknown> | null;
  return !!o && typeof o === 'object' && typeof o.instrument === 'function';
}

function isClass(fn: Function): boolean {
  const proto = fn.prototype as Record<string, unknown> | undefined;
  return (
    /^class[\s{]/.test(Function.prototype.toString.call(fn)) ||
    (!!proto && (typeof proto.enable === 'function' || typeof proto.instrument === 'function'))
  );
}

/** Resolves the file that holds the export, refusing one that leaves its package (symlinks included). */
export function resolveEntry(p: Planned): string {
  const c = p.candidate;
  const entry = c.manifest.entry;
  // By name from the folder it was found in when there is no entry: honours "exports", "main" and symlinks.
  // An entry is resolved as `require` would (an extension or a folder's index may be left out).
  // A NODE_PATH folder need not be called node_modules, and then only its path finds the package.
  const req = createRequire(path.join(c.nodeModules, 'noop.js'));
  const byName = path.basename(c.nodeModules) === 'node_modules';
  const file =
    entry !== undefined ? req.resolve(path.resolve(c.dir, entry)) : req.resolve(byName ? c.package : c.dir);
  if (c.manifest.source === 'field') {
    const root = fs.realpathSync(c.dir);
    const real = fs.realpathSync(file);
    if (!real.startsWith(root + path.sep)) {
      const what = entry === undefined ? 'the main export' : `entry ${JSON.stringify(entry)}`;
      throw new Error(`${what} resolves outside the package (${real})`);
    }
  }
  return file;
}

export function loadModule(p: Planned): unknown {
  return require(resolveEntry(p));
}

export function pickExport(p: Planned, mod: unknown): unknown {
  const name = p.candidate.manifest.export;
  const m = mod as Record<string, unknown> | null;
  if (name) {
    const v = m?.[name];
    if (v === undefined) throw new Error(`the module has no export named ${name}`);
    return v;
  }
  if (m && typeof m === 'object' && 'default' in m && m.default !== undefined) return m.default;
  return mod;
}

function materialise(value: unknown, options: InstrumentOptions, depth = 0): Loaded[] {
  if (Array.isArray(value)) return value.flatMap((v) => materialise(v, options, depth));
  if (isInstrumentation(value)) return [{ kind: 'instrumentation', value }];
  if (isInstrumentor(value)) return [{ kind: 'instrumentor', value }];
  if (typeof value === 'function') {
    if (isClass(value)) {
      const Cls = value as new (config?: unknown) => unknown;
      const instance =
        Cls.prototype && typeof Cls.prototype.instrument === 'function' ? new Cls() : new Cls(options.config);
      return materialise(instance, options, depth);
    }
    if (depth > 0) throw new Error('a factory returned another function');
    return materialise((value as (o: InstrumentOptions) => unknown)(options), options, depth + 1);
  }
  throw new Error(
    'the export is neither an Instrumentation (enable/disable/setTracerProvider), an instrumentor (instrument()), a class of either, nor a factory returning one',
  );
}

export function loggerFor(name: string): InstrumentorLogger {
  return {
    debug: (m) => log.debug(`${name}: ${m}`),
    info: (m) => log.info(`${name}: ${m}`),
    warn: (m) => log.warn(`${name}: ${m}`),
    error: (m) => log.warn(`${name}: ${m}`),
  };
}

/** Turns the instrumentor on; returns what it made, or throws with the reason. */
export function activate(p: Planned, ctx: ActivationContext): Loaded[] {
  const config = ctx.configFor(p.name);
  // Always a provider, so an instrumentor need not test for one: the API's no-op one while metrics are off.
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const meterProvider = ctx.meterProvider ?? api.metrics.getMeterProvider();
  const options: InstrumentOptions = {
    tracerProvider: ctx.tracerProvider as InstrumentOptions['tracerProvider'],
    meterProvider: meterProvider as InstrumentOptions['meterProvider'],
    config,
    logger: loggerFor(p.name),
  };
  let loaded: Loaded[];
  try {
    loaded = materialise(pickExport(p, loadModule(p)), options);
  } catch (err) {
    const { explainFailure } = require('../sdk/api-copies') as typeof import('../sdk/api-copies');
    const why = explainFailure(p.candidate.dir, err);
    if (why) throw new Error(why, { cause: err });
    throw err;
  }
  if (loaded.length === 0) throw new Error('the factory returned nothing');
  for (const item of loaded) {
    const v = item.value;
    if (item.kind === 'instrumentation') {
      // Explicitly, not through the global: the instrumentation may resolve another @opentelemetry/api copy.
      v.setTracerProvider(ctx.tracerProvider);
      if (ctx.meterProvider && typeof v.setMeterProvider === 'function')
        v.setMeterProvider(ctx.meterProvider);
      if (config.enabled !== false) v.enable();
    } else {
      v.instrument(options);
    }
  }
  return loaded;
}
