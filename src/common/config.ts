// The CLI's side of the configuration: finds the config file with cosmiconfig (from the working directory up
// to the project root, or the one --config / OTEL_RUN_CONFIG names), validates it with the same checks as the
// preload (register/config/validate.ts), and folds it under the environment and the flags:
// flag > OTEL_* variable > config file > default. The child gets the result as its environment, with
// OTEL_RUN_RESOLVED set so no process of the tree reads the file again.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigFileError,
  isPackageJson,
  jsLoadError,
  kindOf,
  type LoadedConfig,
  locateLine,
  moduleValue,
  parseJson,
  parseYaml,
  refuseImports,
} from '../../register/config/load';
import { parseInstrumentationsEnv } from '../../register/config/read';
import { configCandidates, findConfigFile, MODULE_NAME, SEARCH_PLACES } from '../../register/config/search';
import {
  type CheckedConfig,
  type ConfigProblem,
  checkConfig,
  type Instrumentations,
  layerEnv,
  layerInstrumentations,
} from '../../register/config/validate';
import { ENV_CONFIG_MODULE, ENV_INSTRUMENTATION_CONFIG, ENV_RESOLVED } from '../../register/contract';

const SEARCH_HINT =
  'without --config, otel-run looks for .otel-runrc(.json|.yaml|.yml|.js|.cjs|.mjs), otel-run.config.(js|cjs|mjs) or an "otel-run" key in package.json, from the working directory up to the folder with package.json';

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

function fromFileError(err: ConfigFileError): ConfigError {
  return new ConfigError(err.file, [{ message: err.message, hint: err.hint, line: err.line }]);
}

/** V8 reports an ES module's syntax error without its line; `node --check` prints it (on the error path only). */
function syntaxErrorLine(file: string): number | undefined {
  const r = spawnSync(process.execPath, ['--check', file], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 10_000,
  });
  const m = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`, 'm').exec(r.stderr ?? '');
  return m ? Number(m[1]) : undefined;
}

type CosmiconfigModule = typeof import('cosmiconfig');

// tsc (module: commonjs) would turn a literal import() into require(), which cannot load an ES module on every
// Node we support; this keeps the real dynamic import.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

/** .js/.cjs/.mjs through import(): ES modules on every Node, CommonJS as module.exports. */
async function loadJs(file: string): Promise<unknown> {
  try {
    return moduleValue(await importModule(pathToFileURL(file).href));
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const e = jsLoadError(err, file);
    if (e.line !== undefined || !(err instanceof SyntaxError)) throw e;
    throw new ConfigFileError(e.message, file, syntaxErrorLine(file), e.hint);
  }
}

function explorer() {
  const { cosmiconfig } = require('cosmiconfig') as CosmiconfigModule;
  const yaml = (file: string, text: string) => refuseImports(file, parseYaml(file, text), text);
  const js = async (file: string) => refuseImports(file, await loadJs(file));
  const json = (file: string, text: string) => {
    const value = parseJson(file, text);
    if (isPackageJson(file)) {
      const own = (value as Record<string, unknown> | null)?.[MODULE_NAME];
      refuseImports(file, own, text, [MODULE_NAME]);
    } else refuseImports(file, value, text);
    return value;
  };
  return cosmiconfig(MODULE_NAME, {
    searchPlaces: [...SEARCH_PLACES],
    searchStrategy: 'project',
    cache: false,
    loaders: {
      '.json': json,
      '.yaml': yaml,
      '.yml': yaml,
      noExt: yaml,
      '.js': js,
      '.cjs': js,
      '.mjs': js,
    },
  });
}

/**
 * The config file that applies: the one named (`explicit`, relative to `cwd`), else the first found from
 * `cwd` up to the project root; undefined when there is none. Throws ConfigError when it cannot be read.
 */
export async function loadConfig(cwd: string, explicit?: string): Promise<LoadedConfig | undefined> {
  const named = explicit?.trim() ? path.resolve(cwd, explicit.trim()) : undefined;
  // The same cheap look the preload makes: with no file there, cosmiconfig (and its 15 modules) stays unloaded.
  if (!named && findConfigFile(cwd) === undefined) return undefined;
  let result: { config: unknown; filepath: string; isEmpty?: boolean } | null;
  try {
    result = named ? await explorer().load(named) : await explorer().search(cwd);
  } catch (err) {
    if (err instanceof ConfigFileError) throw fromFileError(err);
    const e = err as NodeJS.ErrnoException & { filepath?: string };
    const file = e.filepath ?? named ?? cwd;
    if (e.code === 'ENOENT' || e.code === 'EISDIR') {
      throw new ConfigError(file, [
        {
          message: e.code === 'ENOENT' ? 'config file not found' : 'is a folder, not a config file',
          hint: SEARCH_HINT,
        },
      ]);
    }
    throw new ConfigError(file, [{ message: `cannot be read: ${e.message.split('\n')[0]}` }]);
  }
  if (!result) {
    // An explicit package.json without an "otel-run" key.
    if (named) return { file: named, config: undefined, prefix: [] };
    return undefined;
  }
  const file = result.filepath;
  const text = kindOf(file) === 'js' ? undefined : fs.readFileSync(file, 'utf8');
  return { file, config: result.config, text, prefix: isPackageJson(file) ? [MODULE_NAME] : [] };
}

/** Checks a loaded file; throws ConfigError listing every problem. */
export function checkLoaded(loaded: LoadedConfig): CheckedConfig {
  const checked = checkConfig(loaded.config, (keys) => locateLine(loaded.text, [...loaded.prefix, ...keys]));
  if (checked.problems.length) throw new ConfigError(loaded.file, checked.problems);
  return checked;
}

function instrumentationsJson(file: string, instrumentations: Instrumentations): string {
  try {
    // Functions are left out here; the preload takes them from the file itself (OTEL_RUN_CONFIG_MODULE).
    return JSON.stringify(instrumentations);
  } catch (err) {
    throw new ConfigError(file, [
      {
        message: `instrumentations cannot be passed to the app: ${(err as Error).message}`,
        hint: 'per-instrumentor options must be plain data (strings, numbers, booleans, arrays, objects) or functions',
      },
    ]);
  }
}

/**
 * The environment for the child: `base` (the CLI's own environment) with the config file's settings under
 * it and the flags' variables over it, per-instrumentor options as JSON, and OTEL_RUN_RESOLVED set.
 */
export async function resolveChildEnv(
  base: NodeJS.ProcessEnv,
  flags: Record<string, string>,
  cwd: string,
): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...base, ...flags };
  const loaded = await loadConfig(cwd, flags.OTEL_RUN_CONFIG ?? base.OTEL_RUN_CONFIG);
  if (loaded) {
    const checked = checkLoaded(loaded);
    Object.assign(env, layerEnv([checked.env, base, flags]));
    let envUsable = true;
    const fromEnv = parseInstrumentationsEnv(base[ENV_INSTRUMENTATION_CONFIG], () => {
      // A broken variable is left as it is: the preload says what is wrong with it.
      envUsable = false;
    });
    const instrumentations = layerInstrumentations([checked.instrumentations, fromEnv]);
    if (envUsable && Object.keys(instrumentations).length)
      env[ENV_INSTRUMENTATION_CONFIG] = instrumentationsJson(loaded.file, instrumentations);
    if (checked.hasFunctions) env[ENV_CONFIG_MODULE] = loaded.file;
    else delete env[ENV_CONFIG_MODULE];
  }
  // Read in the child, whose working directory may differ: handed down as an absolute path.
  const otelFile = env.OTEL_CONFIG_FILE?.trim();
  if (otelFile) env.OTEL_CONFIG_FILE = path.resolve(cwd, otelFile);
  env[ENV_RESOLVED] = '1';
  return env;
}

/** The config-file layer for `otel-run env` / `doctor` (synchronous: the preload's own loader). */
export function readConfigLayerSync(
  cwd: string,
  env: NodeJS.ProcessEnv,
): { file: string; vars: Record<string, string>; instrumentations: Instrumentations } | undefined {
  const { loadConfigFileSync } =
    require('../../register/config/load') as typeof import('../../register/config/load');
  const explicit = env.OTEL_RUN_CONFIG?.trim();
  const candidates = explicit ? [path.resolve(cwd, explicit)] : configCandidates(cwd);
  for (const file of candidates) {
    let loaded: LoadedConfig;
    try {
      loaded = loadConfigFileSync(file);
    } catch (err) {
      if (err instanceof ConfigFileError) throw fromFileError(err);
      throw err;
    }
    if (loaded.config === undefined && !explicit) continue;
    const checked = checkLoaded(loaded);
    return { file, vars: checked.env, instrumentations: checked.instrumentations };
  }
  return undefined;
}
