// The public instrumentor protocol: what a package puts in its package.json under "otelInstrumentor" and
// what its export may be. Documented in docs/instrumentor-protocol.md; importable as `otel-run/protocol`.
// Types only, plus one tiny helper: this file is loaded by instrumentor packages, so it must stay free.

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

/** `"otelInstrumentor": "./dist/instrumentor.js"` (entry only), the object form, or several of them. */
export type InstrumentorFieldValue = string | InstrumentorField | Array<string | InstrumentorField>;

/** What `instrument()` receives. */
export interface InstrumentOptions {
  /** The global tracer provider otel-run registered (an @opentelemetry/api TracerProvider). */
  tracerProvider: unknown;
  /** The meter provider, or a no-op one while metrics are off. */
  meterProvider: unknown;
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
 * Types a plain instrumentor for authors, and brands it so otel-run never mistakes it for a factory.
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
