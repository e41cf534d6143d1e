// OTEL_CONFIG_FILE in the preload: with it set, the OpenTelemetry configuration file replaces the OTEL_*
// layer (the spec: environment variables then count only through ${…} in the file); otel-run's own OTEL_RUN_*
// settings still come from the environment, the CLI's flags and otel-run's config file. Required by main.ts
// only when the variable is set. A file that cannot be used leaves the app running untraced, with one line
// naming the file, the key and its line; in strict mode (OTEL_RUN_STRICT) the start stops instead.
import type { DeclaredPipelines } from '../export/pipeline';
import { readSettings, type Settings, SPECS } from '../settings/table';
import * as log from '../util/stderr';
import { type Finding, mapModel, type Origin } from './map';
import { OtelConfigError, parseOtelConfigFile } from './parse';

type Options = Record<string, unknown>;

export const ENV_OTEL_CONFIG_FILE = 'OTEL_CONFIG_FILE';

export interface FileConfigured {
  file: string;
  settings: Settings;
  /** Absent when the file could not be used (the settings then turn everything off). */
  declared?: DeclaredPipelines;
  origins: Record<string, Origin>;
  /** Per-instrumentor options: the file's `js` entry, else what otel-run's own configuration gives. */
  configFor(name: string, fallback: (name: string) => Options): Options;
}

/**
 * The variables still read beside the file: otel-run's own (OTEL_RUN_*), and which instrumentors run
 * (--enable/--disable): that is otel-run's choice, not an SDK setting the file's schema has a place for.
 */
const OWN = /^(OTEL_RUN_.*|OTEL_CONFIG_FILE|OTEL_NODE_(EN|DIS)ABLED_INSTRUMENTATIONS)$/;

export function ownLayer(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => OWN.test(k)));
}

function fatal(text: string): Error {
  const err = new Error(`otel-run: ${text} (strict mode: configuration problems are fatal)`);
  // The reason is the message: a stack into otel-run's start would only hide it.
  err.stack = `Error: ${err.message}`;
  return err;
}

function where(file: string, f: { key: string; line?: number }): string {
  return `${ENV_OTEL_CONFIG_FILE} ${file}${f.line === undefined ? '' : `:${f.line}`}${f.key ? `: ${f.key}` : ''}`;
}

/**
 * Reads the file and returns the settings to run with. `problem` receives the bad values of otel-run's own
 * variables (as readSettings reports them). Throws only in strict mode.
 */
export function readOtelConfigFile(
  env: NodeJS.ProcessEnv,
  cwd: string,
  problem: (p: { message: string }) => void,
): FileConfigured {
  const base = readSettings(ownLayer(env), problem);
  const given = (env[ENV_OTEL_CONFIG_FILE] ?? '').trim();
  const untraced = (file: string): FileConfigured => ({
    file,
    settings: { ...base, sdkDisabled: true },
    origins: {},
    configFor: (name, fallback) => fallback(name),
  });
  let parsed: ReturnType<typeof parseOtelConfigFile>;
  try {
    parsed = parseOtelConfigFile(given, cwd, env);
  } catch (err) {
    const text =
      err instanceof OtelConfigError
        ? `${where(err.file, err)}: ${err.why}`
        : `${ENV_OTEL_CONFIG_FILE} ${given}: ${log.reason(err)}`;
    if (base.strict) throw fatal(text);
    log.setLevel(base.logLevel);
    log.warn(`${text} — the app runs untraced`);
    return untraced(err instanceof OtelConfigError ? err.file : given);
  }
  const mapped = mapModel(parsed, base, env);
  const { settings } = mapped;
  log.setLevel(settings.logLevel);
  const findings: Finding[] = [
    ...parsed.warnings.map((w) => ({ ...w, kind: 'error' as const })),
    ...mapped.findings,
  ];
  const firstError = findings.find((f) => f.kind === 'error');
  if (settings.strict && firstError) throw fatal(`${where(parsed.file, firstError)}: ${firstError.message}`);
  for (const f of findings) log.warn(`${where(parsed.file, f)}: ${f.message}`);
  for (const n of parsed.notes) log.debug(`${where(parsed.file, n)}: ${n.message}`);
  // Set for the environment layer the file replaced: say so once, rather than leave a value that looks
  // applied and is not.
  const ignored = SPECS.map((s) => s.env).filter(
    (name) =>
      !OWN.test(name) &&
      env[name]?.trim() &&
      !parsed.references.has(name) &&
      // Read by the spec's `service` resource detector.
      !(name === 'OTEL_SERVICE_NAME' && settings.resourceDetectors.includes('serviceinstance')),
  );
  if (ignored.length)
    log.warn(
      `${ignored.join(', ')} set but not used: with ${ENV_OTEL_CONFIG_FILE} (${parsed.file}) variables count only through \${…} in that file — ignored`,
    );
  log.debug(`configured by ${parsed.file}`);
  const fromFile = mapped.instrumentations;
  return {
    file: parsed.file,
    settings,
    declared: mapped.declared,
    origins: mapped.origins,
    configFor(name, fallback) {
      const options = fromFile[name];
      if (!options) return fallback(name);
      const { toInstrumentationConfig } =
        require('../settings/instrumentation-options') as typeof import('../settings/instrumentation-options');
      return toInstrumentationConfig(name, options, (m) => log.warn(m));
    },
  };
}
