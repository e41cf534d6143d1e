// The public instrumentor protocol: what a package puts in its package.json under "otelInstrumentor" and
// what its export may be. Documented in docs/instrumentor-protocol.md; importable as `otel-run/protocol`.
// Types only, plus one tiny helper: this file is loaded by instrumentor packages, so it must stay free.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';

/** The long form of the "otelInstrumentor" field. */
export interface InstrumentorField {
  /** Id for enable/disable lists and config. Default: derived from the package name (see the protocol doc). */
  name?: string;
  /** File inside the package, relative to it. Default: the package's main export. */
  entry?: string;
  /** Named export. Default: the module's default export (or the module itself). */
  export?: string;
  /** Target modules (npm names or Node builtins such as "node:http") with the semver range supported. */
  instruments?: Record<string, string>;
  /** Off unless named in --enable / OTEL_NODE_ENABLED_INSTRUMENTATIONS. */
  defaultOff?: boolean;
}

/** `"otelInstrumentor": "../dist/instrumentor.js"` (entry only), the object form, or several of them. */
export type InstrumentorFieldValue = string | InstrumentorField | Array<string | InstrumentorField>;

/** What `instrument()` receives. */
export interface InstrumentOptions {
  /** The tracer provider otel-run registered: make spans with `tracerProvider.getTracer(name, version)`. */
  tracerProvider: TracerProvider;
  /** The meter provider, or a no-op one while metrics are off. */
  meterProvider: MeterProvider;
  /** This instrumentor's options from the config file (`instrumentations.<name>`), `{}` when none. */
  config: Record<string, unknown>;
  /** Writes to stderr with an `otel-run: <name>:` prefix; debug lines only under OTEL_LOG_LEVEL=debug. */
  logger: InstrumentorLogger;
}

export interface InstrumentorLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The plain form (Python's BaseInstrumentor shape). */
export interface Instrumentor {
  instrument(options: InstrumentOptions): void;
  uninstrument?(): void;
}

/** The OpenTelemetry `Instrumentation` interface, as every @opentelemetry/instrumentation-* class has it. */
export interface OtelInstrumentation {
  enable(): void;
  disable(): void;
  setTracerProvider(provider: unknown): void;
  setMeterProvider?(provider: unknown): void;
  setConfig?(config: Record<string, unknown>): void;
  getConfig?(): Record<string, unknown>;
}

/**
 * Types a plain instrumentor for authors (an identity function: it adds nothing at run time).
 *
 * ```js
 * module.exports = defineInstrumentor({
 *   instrument({ tracerProvider, config }) { ... },
 *   uninstrument() { ... },
 * });
 * ```
 */
export function defineInstrumentor<T extends Instrumentor>(instrumentor: T): T {
  return instrumentor;
}

/** Status of an instrumentor in `otel-run list --json` (and in the preload's decision). */
export type InstrumentorStatus =
  | 'enabled'
  | 'disabled'
  | 'disabled-by-default'
  | 'target-not-installed'
  | 'version-mismatch'
  | 'invalid'
  | 'failed'
  | 'duplicate'
  | 'not-installed';

/** One element of the array `otel-run list --json` prints. */
export interface ListEntry {
  /** The name used in enable/disable lists and in the config file. */
  name: string;
  /** The npm package it comes from, and that package's version. */
  package: string;
  version: string;
  /** `field`: the package's "otelInstrumentor"; `catalog`: otel-run's table of the contrib packages. */
  source: 'field' | 'catalog';
  /** The package folder as found (may be a symlink, as in pnpm layouts). */
  dir: string;
  /** Each target module with the range supported and the version the app would load, or null. */
  targets: { module: string; range: string; installed: string | null }[];
  status: InstrumentorStatus;
  /** Why it has that status, in a sentence; never empty. */
  reason: string;
}
