// The CLI's configuration pipeline, the one run, list, env and doctor use: the config file is found and read
// once (register/config/search.ts and load.ts, the preload's own search and loader), checked by the settings
// table (register/config/validate.ts), and layered with the flags, the environment and the --verbose/--view
// defaults by the one precedence (register/config/resolve.ts). A child gets the result as its environment, with
// OTEL_RUN_RESOLVED set so no process of the tree reads the file again.
import * as path from 'node:path';
import type { LoadedConfig } from '../../register/config/load';
import {
  layerInstrumentations,
  type Origin,
  parseInstrumentationsEnv,
  resolveLayers,
} from '../../register/config/resolve';
import {
  describeRefused,
  type NearMiss,
  type Refused,
  type Search,
  searchConfig,
} from '../../register/config/search';
import type { CheckedConfig, ConfigProblem, Instrumentations } from '../../register/config/validate';
import {
  ENV_CONFIG_MODULE,
  ENV_INSTRUMENTATION_CONFIG,
  ENV_INSTRUMENTATIONS_FILE,
  ENV_RESOLVED,
  MAX_ENV_JSON,
} from '../../register/contract';
import { type Problem, readSettings, type Settings } from '../../register/settings/table';
import { VIEW_OFF, viewExporters } from './flags';

/** Problems that stop the CLI before the app starts (exit 2), each with where and how to fix it. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ReadonlyArray<Pick<ConfigProblem, 'message' | 'hint' | 'line'>>,
  ) {
    super(problems.map((p) => p.message).join('; '));
  }

  /** `otel-run: <problem> (<file>:<line>)` and `  hint: <fix>`, for each problem. */
  report(): string {
    return this.problems
      .map((p) => {
        const where = p.line === undefined ? this.file : `${this.file}:${p.line}`;
        return `otel-run: ${p.message} (${where})\n${p.hint ? `  hint: ${p.hint}\n` : ''}`;
      })
      .join('');
  }
}

export interface CliConfigInput {
  /** The variables the flags set (src/common/flags.ts flagsToEnv). */
  flags: Record<string, string>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** --verbose: OTEL_LOG_LEVEL=info unless a flag or the environment sets the level. */
  verbose?: boolean;
  /** --view: the terminal view as the traces exporter, metrics and logs off unless something sets them. */
  view?: boolean;
}

export interface Resolved {
  settings: Settings;
  /** Every setting's variable, with where its value came from. */
  origins: Record<string, Origin>;
  /** The variables a child process gets from flags, environment and file (not the table's defaults). */
  vars: Record<string, string>;
  /** Values the settings table could not use. */
  problems: Problem[];
  configFile?: string;
  /** The config file's per-instrumentor options. */
  instrumentations: Instrumentations;
  /** Some of those options are functions: the preload takes them from the file (OTEL_RUN_CONFIG_MODULE). */
  hasFunctions: boolean;
  /** Files named like a config file that otel-run does not read. */
  nearMisses: readonly NearMiss[];
  /** Config files found but not used: another user could have written them (register/config/trust.ts). */
  refused: readonly Refused[];
  /** Only with `keepGoing`: the config file's problems (the file is then left out). */
  fileError?: ConfigError;
}

/** Reads and checks the file that applies; throws ConfigError listing every problem. */
async function readFile(search: Search): Promise<(CheckedConfig & { file: string }) | undefined> {
  // Required only once a file was found: with none, the CLI loads neither.
  const { ConfigFileError, loadFirstAsync, locateLine } =
    require('../../register/config/load') as typeof import('../../register/config/load');
  const { checkConfig } =
    require('../../register/config/validate') as typeof import('../../register/config/validate');
  let loaded: LoadedConfig | undefined;
  try {
    loaded = await loadFirstAsync(search);
  } catch (err) {
    if (err instanceof ConfigFileError)
      throw new ConfigError(err.file, [{ message: err.message, hint: err.hint, line: err.line }]);
    throw err;
  }
  if (!loaded) return undefined;
  const { file, text, prefix } = loaded;
  const checked = checkConfig(loaded.config, (keys) => locateLine(text, [...prefix, ...keys]));
  if (checked.problems.length) throw new ConfigError(file, checked.problems);
  return { ...checked, file };
}

/**
 * The settings of a command: flags, environment and config file by the one precedence. `keepGoing` (doctor):
 * a file with problems is left out and its problems returned, instead of thrown.
 */
export async function resolveConfig(input: CliConfigInput, keepGoing = false): Promise<Resolved> {
  const flags = { ...input.flags };
  if (input.view) flags.OTEL_TRACES_EXPORTER = viewExporters(input.flags.OTEL_TRACES_EXPORTER);
  // Disabled: no file is read at all (a JavaScript one would run code for nothing). doctor still looks.
  const disabled = !keepGoing && isTrue(flags.OTEL_SDK_DISABLED ?? input.env.OTEL_SDK_DISABLED);
  const search = disabled
    ? { files: [], named: false, nearMisses: [], texts: new Map(), refused: [] }
    : searchConfig(input.cwd, flags.OTEL_RUN_CONFIG ?? input.env.OTEL_RUN_CONFIG);
  let file: Awaited<ReturnType<typeof readFile>>;
  let fileError: ConfigError | undefined;
  // No file found: nothing is read (and js-yaml stays unloaded).
  if (search.files.length) {
    try {
      file = await readFile(search);
    } catch (err) {
      if (!keepGoing || !(err instanceof ConfigError)) throw err;
      fileError = err;
    }
  }
  const { vars, origins } = resolveLayers({
    flags,
    env: input.env,
    flagDefaults: input.verbose ? { OTEL_LOG_LEVEL: 'info' } : undefined,
    file: file && { path: file.file, vars: file.env },
    viewDefaults: input.view ? Object.fromEntries(VIEW_OFF.map((name) => [name, 'none'])) : undefined,
  });
  // Read in the child, whose working directory may differ: handed down as an absolute path.
  const otelFile = vars.OTEL_CONFIG_FILE?.trim();
  if (otelFile) vars.OTEL_CONFIG_FILE = path.resolve(input.cwd, otelFile);
  const problems: Problem[] = [];
  const settings = readSettings(vars, (p) => problems.push(p));
  const resolved: Resolved = {
    settings,
    origins,
    vars,
    problems,
    configFile: file?.file,
    instrumentations: file?.instrumentations ?? {},
    hasFunctions: file?.hasFunctions ?? false,
    nearMisses: search.nearMisses,
    refused: search.refused,
    fileError,
  };
  if (!otelFile) return resolved;
  // The OpenTelemetry configuration file replaces the OTEL_* layer (src/common/otel-config.ts).
  const { withOtelConfig } = require('./otel-config') as typeof import('./otel-config');
  return withOtelConfig(resolved, input.cwd);
}

/** What the CLI says about a file it does not read (doctor lists the same as a warning). */
export function describeNearMiss(miss: NearMiss): { text: string; hint: string } {
  return {
    text: `not a config file name otel-run reads, so it is ignored (${miss.file})`,
    hint: `rename it to ${miss.rename}`,
  };
}

/** The near misses and the refused files, on stderr before the command goes on. */
export function nearMissReport(resolved: Pick<Resolved, 'nearMisses' | 'refused'>): string {
  return (
    resolved.refused
      .map(describeRefused)
      .map(({ text, instead }) => `otel-run: ${text} — ${instead}\n`)
      .join('') +
    resolved.nearMisses
      .map(describeNearMiss)
      .map(({ text, hint }) => `otel-run: ${text}\n  hint: ${hint}\n`)
      .join('')
  );
}

function isTrue(v: string | undefined): boolean {
  return v?.trim().toLowerCase() === 'true';
}

/**
 * OTEL_RUN_INSTRUMENTATIONS for a child: the file's per-instrumentor options under the variable's own (merged
 * per instrumentor and key). Undefined when there is nothing to add, or the variable is broken (it is then
 * left as it is: the preload says what is wrong with it).
 */
export function instrumentationsVar(resolved: Resolved, base: NodeJS.ProcessEnv): string | undefined {
  if (Object.keys(resolved.instrumentations).length === 0) return undefined;
  let usable = true;
  const fromEnv = parseInstrumentationsEnv(base[ENV_INSTRUMENTATION_CONFIG], () => {
    usable = false;
  });
  if (!usable) return undefined;
  try {
    // Functions are left out here; the preload takes them from the file itself (OTEL_RUN_CONFIG_MODULE).
    return JSON.stringify(layerInstrumentations([resolved.instrumentations, fromEnv]));
  } catch (err) {
    throw new ConfigError(resolved.configFile ?? '(config file)', [
      {
        message: `instrumentations cannot be passed to the app: ${(err as Error).message}`,
        hint: 'per-instrumentor options must be plain data (strings, numbers, booleans, arrays, objects) or functions',
      },
    ]);
  }
}

/** The environment of a child: `base` with the resolved variables over it, and OTEL_RUN_RESOLVED set. */
export function childEnv(resolved: Resolved, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, ...resolved.vars };
  delete env[ENV_INSTRUMENTATIONS_FILE];
  const instrumentations = instrumentationsVar(resolved, base);
  // Too large for the environment (exec fails with E2BIG over 128 KiB): the preload reads the options from
  // the file itself, under the variable as the user set it.
  if (
    instrumentations !== undefined &&
    Buffer.byteLength(instrumentations) > MAX_ENV_JSON &&
    resolved.configFile
  )
    env[ENV_INSTRUMENTATIONS_FILE] = resolved.configFile;
  else if (instrumentations !== undefined) env[ENV_INSTRUMENTATION_CONFIG] = instrumentations;
  if (resolved.hasFunctions && resolved.configFile) env[ENV_CONFIG_MODULE] = resolved.configFile;
  else if (resolved.configFile) delete env[ENV_CONFIG_MODULE];
  env[ENV_RESOLVED] = '1';
  return env;
}
