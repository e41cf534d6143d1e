// The preload's side of the configuration. Under the CLI (OTEL_RUN_RESOLVED set) everything is already in the
// environment: the settings as their variables, per-instrumentor options as JSON in OTEL_RUN_INSTRUMENTATIONS,
// and, when a .js config gave functions, the file's path in OTEL_RUN_CONFIG_MODULE (loaded here, once, the
// first time an instrumentor asks for its options). Used alone (a container's NODE_OPTIONS), the preload looks
// for the same file itself, with the CLI's search, loader, validation and precedence (config/search.ts, load.ts,
// validate.ts, resolve.ts): the environment wins over the file. The loader and the validation are required
// only once a file was found; looking costs a stat per place per folder up to the project root.
import {
  ENV_CONFIG_MODULE,
  ENV_INSTRUMENTATION_CONFIG,
  ENV_INSTRUMENTATIONS_FILE,
  ENV_RESOLVED,
} from '../contract';
import * as log from '../util/stderr';

type Options = Record<string, unknown>;

/** `<what failed>: <why>` and `<what happens instead>`, the two halves of a preload warning. */
export interface PreloadProblem {
  readonly text: string;
  readonly instead: string;
  /** A warning even in strict mode: nothing the app configured went wrong (a file otel-run does not read). */
  readonly notice?: boolean;
}

export interface PreloadConfig {
  /** The environment to read settings from: process.env, or with the config file's values under it. */
  env: NodeJS.ProcessEnv;
  /** The config file read, if any. */
  file?: string;
  /** Problems found, said by reportConfigProblems once the settings (log level, strict) are known. */
  problems: PreloadProblem[];
  /** The options instrumentor `name` gets, declarative ones turned into hooks. */
  configFor(name: string): Options;
  /** Instrumentor names the configuration gives options to: named, so discovery says when one is missing. */
  configured: string[];
}

function isPlainObject(v: unknown): v is Options {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function where(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

function withOptions(
  data: Record<string, Options> | undefined,
  functions?: () => Record<string, unknown> | undefined,
): Pick<PreloadConfig, 'configFor' | 'configured'> {
  return { configFor: makeConfigFor(() => data, functions), configured: Object.keys(data ?? {}) };
}

function makeConfigFor(
  data: () => Record<string, Options> | undefined,
  functions?: () => Record<string, unknown> | undefined,
): (name: string) => Options {
  return (name) => {
    let options: unknown = data()?.[name];
    const fns = functions?.()?.[name];
    if (fns !== undefined) {
      const { mergeFunctions } =
        require('../settings/instrumentation-options') as typeof import('../settings/instrumentation-options');
      options = mergeFunctions(options, fns);
    }
    if (!isPlainObject(options) || Object.keys(options).length === 0) return {};
    const { toInstrumentationConfig } =
      require('../settings/instrumentation-options') as typeof import('../settings/instrumentation-options');
    return toInstrumentationConfig(name, options, (m) => log.warn(m));
  };
}

/** The `instrumentations` of a .js config named by the CLI, for the functions JSON could not carry. */
function functionsFrom(file: string): () => Record<string, unknown> | undefined {
  let loaded: Record<string, unknown> | undefined;
  let done = false;
  return () => {
    if (done) return loaded;
    done = true;
    try {
      const { loadConfigFileSync } = require('./load') as typeof import('./load');
      const config = loadConfigFileSync(file).config as Options | undefined;
      const instrumentations = config?.instrumentations;
      if (isPlainObject(instrumentations)) loaded = instrumentations;
    } catch (err) {
      const e = err as { line?: number; message?: string };
      log.warn(
        `config file ${where(file, e.line)}: functions in instrumentations not loaded: ${e.message ?? String(err)} — those options are left out`,
      );
    }
    return loaded;
  };
}

/**
 * Per-instrumentor options too large for the environment: the CLI names the config file they are in
 * (OTEL_RUN_INSTRUMENTATIONS_FILE), read here and checked as the CLI did (it already reported the file's
 * problems), under OTEL_RUN_INSTRUMENTATIONS.
 */
function largeOptionsFrom(
  file: string,
  fromEnv: Record<string, Options> | undefined,
  functions: (() => Record<string, unknown> | undefined) | undefined,
): Pick<PreloadConfig, 'configFor' | 'configured'> {
  let data: Record<string, Options> | undefined = fromEnv;
  let done = false;
  const load = () => {
    if (done) return data;
    done = true;
    try {
      const { loadConfigFileSync, locateLine } = require('./load') as typeof import('./load');
      const { checkConfig } = require('./validate') as typeof import('./validate');
      const { layerInstrumentations } = require('./resolve') as typeof import('./resolve');
      const loaded = loadConfigFileSync(file);
      const checked = checkConfig(loaded.config, (keys) =>
        locateLine(loaded.text, [...loaded.prefix, ...keys]),
      );
      data = layerInstrumentations([checked.instrumentations, fromEnv]);
    } catch (err) {
      log.warn(
        `config file ${file}: instrumentations not loaded: ${(err as Error).message ?? String(err)} — instrumentors use their default options`,
      );
    }
    return data;
  };
  // Read at start: discovery needs the names the options are for.
  return { configFor: makeConfigFor(load, functions), configured: Object.keys(load() ?? {}) };
}

function instrumentationsFromEnv(
  env: NodeJS.ProcessEnv,
  problems: PreloadProblem[],
): Record<string, Options> | undefined {
  const { parseInstrumentationsEnv } = require('./resolve') as typeof import('./resolve');
  return parseInstrumentationsEnv(env[ENV_INSTRUMENTATION_CONFIG], (why) =>
    problems.push({
      text: `${ENV_INSTRUMENTATION_CONFIG} is ${why}`,
      instead: 'instrumentors use their default options',
    }),
  );
}

/**
 * One warning per problem; in strict mode the first one stops the process instead (the one case where the
 * preload may: a thrown error at start, with the reason).
 */
export function reportConfigProblems(problems: readonly PreloadProblem[], strict: boolean): void {
  const first = problems.find((p) => !p.notice);
  if (strict && first) {
    const err = new Error(`otel-run: ${first.text} (strict mode: configuration problems are fatal)`);
    // The reason is the message: a stack into otel-run's start would only hide it.
    err.stack = `Error: ${err.message}`;
    throw err;
  }
  for (const p of problems) log.warn(`${p.text} — ${p.instead}`);
}

export function readConfig(env: NodeJS.ProcessEnv, cwd: string): PreloadConfig {
  const problems: PreloadProblem[] = [];
  const fromEnv = () =>
    env[ENV_INSTRUMENTATION_CONFIG] ? instrumentationsFromEnv(env, problems) : undefined;

  const resolved = env[ENV_RESOLVED]?.trim();
  if (resolved && !/^(0|false)$/i.test(resolved)) {
    const module = env[ENV_CONFIG_MODULE];
    const functions = module ? functionsFrom(module) : undefined;
    const large = env[ENV_INSTRUMENTATIONS_FILE];
    if (large) return { env, problems, ...largeOptionsFrom(large, fromEnv(), functions) };
    return { env, problems, ...withOptions(fromEnv(), functions) };
  }

  const { searchConfig, describeRefused } = require('./search') as typeof import('./search');
  const search = searchConfig(cwd, env.OTEL_RUN_CONFIG);
  for (const r of search.refused) problems.push({ ...describeRefused(r), notice: true });
  for (const miss of search.nearMisses) {
    problems.push({
      text: `config file ${miss.file}: not a name otel-run reads (rename it to ${miss.rename})`,
      instead: 'it is ignored',
      notice: true,
    });
  }
  if (search.files.length === 0) return { env, problems, ...withOptions(fromEnv()) };

  const load = require('./load') as typeof import('./load');
  let loaded: import('./load').LoadedConfig | undefined;
  try {
    loaded = load.loadFirst(search);
  } catch (err) {
    const e = err as InstanceType<typeof load.ConfigFileError>;
    problems.push({
      text: `config file ${where(e.file, e.line)}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`,
      instead: 'the file is ignored',
    });
  }
  if (!loaded) return { env, problems, ...withOptions(fromEnv()) };

  const { checkConfig } = require('./validate') as typeof import('./validate');
  const { layerInstrumentations, resolveLayers } = require('./resolve') as typeof import('./resolve');
  const { file, text, prefix } = loaded;
  const checked = checkConfig(loaded.config, (keys) => load.locateLine(text, [...prefix, ...keys]));
  for (const p of checked.problems) {
    problems.push({
      text: `config file ${where(file, p.line)}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`,
      instead: p.instead,
    });
  }
  const { vars } = resolveLayers({ env, file: { path: file, vars: checked.env } });
  const instrumentations = layerInstrumentations([checked.instrumentations, fromEnv()]);
  return { env: { ...env, ...vars }, file, problems, ...withOptions(instrumentations) };
}
