// The SDK's own diagnostics (api.diag), written to stderr under OTEL_LOG_LEVEL: the stock DiagConsoleLogger
// writes to stdout, which belongs to the app. Some SDK packages re-read OTEL_* variables that the settings
// table has already read, validated and, when bad, reported in the house format; their own complaint about
// the same value (with the raw value, in other words) is dropped below debug. Nothing else is: a message that
// merely names a variable (an app's own SDK, an instrumentation) is news, and under debug everything shows.
import { redactUrls } from '../util/redact';
import { type Level, writeStderr } from '../util/stderr';

type Api = typeof import('@opentelemetry/api');

/**
 * The SDK's complaints about a variable it re-reads, as worded in @opentelemetry/core 2.12 (getNumberFromEnv,
 * getBooleanFromEnv), sdk-trace-base 2.12 (the sampler from the environment) and otlp-exporter-base 0.223
 * (the gRPC exporters' timeout and compression). The first group is the variable's name.
 */
const DUPLICATES: readonly RegExp[] = [
  /^Unknown value .* for (OTEL_[A-Z0-9_]+), expected /,
  /^(OTEL_TRACES_SAMPLER) value ".*" invalid, defaulting to /,
  /^(OTEL_TRACES_SAMPLER_ARG)(?: is blank,|=.* was given, but it is out of range)/,
  /^Configuration: (OTEL_[A-Z0-9_]+) is invalid, expected /,
];

/** True for an SDK message that repeats what the settings table says about one of its own variables. */
export function isKnownDuplicate(message: string, ownVariables: ReadonlySet<string>): boolean {
  for (const re of DUPLICATES) {
    const name = re.exec(message)?.[1];
    if (name !== undefined) return ownVariables.has(name);
  }
  return false;
}

export function installDiagLogger(api: Api, level: Level, ownVariables: ReadonlySet<string>): void {
  const verbose = level === 'debug' || level === 'verbose' || level === 'all';
  const write =
    (tag: string, filtered: boolean) =>
    (message: string, ...args: unknown[]) => {
      if (filtered && !verbose && typeof message === 'string' && isKnownDuplicate(message, ownVariables))
        return;
      try {
        const { format } = require('node:util') as typeof import('node:util');
        writeStderr(`otel-run: [${tag}] ${redactUrls(format(message, ...args))}\n`);
      } catch {}
    };
  const levels: Record<Level, number> = {
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
      // The sampler's complaints come at error level, the others at warn.
      error: write('error', true),
      warn: write('warn', true),
      info: write('info', false),
      debug: write('debug', false),
      verbose: write('verbose', false),
    },
    { logLevel: levels[level], suppressOverrideMessage: true },
  );
}
