// Reads a config file: the one loader of the CLI and the preload, so both read every format the same way and
// report a problem the same way, with its line. JSON is JSON.parse; YAML (and the extensionless .otel-runrc,
// which may be either) is js-yaml; .js/.cjs/.mjs are required. The CLI alone may fall back to import() for an
// ES module that require() cannot load on this Node (loadFirstAsync). The preload loads this module only once
// config/search.ts found a file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describePlaces, MAX_CONFIG_BYTES, MODULE_NAME, type Search } from './search';

/** A config file that cannot be used at all, or one problem in it; `line` is 1-based. */
export class ConfigFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly hint?: string,
    /** `esm`: require() cannot load this ES module here; `syntax`: a JavaScript syntax error. */
    readonly reason?: 'esm' | 'syntax',
  ) {
    super(message);
  }
}

const NOT_FOUND_HINT = `check the path given by --config or OTEL_RUN_CONFIG; without --config, otel-run looks for ${describePlaces()}, from the working directory up to the folder with package.json`;

export interface LoadedConfig {
  file: string;
  /** What the file holds (the "otel-run" key of a package.json); undefined when it holds nothing. */
  config: unknown;
  /** The text, for data files: used to find the line of a bad key. */
  text?: string;
  /** Where the settings start inside the text (["otel-run"] in a package.json). */
  prefix: string[];
}

export function isPackageJson(file: string): boolean {
  return path.basename(file) === 'package.json';
}

export function kindOf(file: string): 'json' | 'yaml' | 'js' {
  const ext = path.extname(file);
  if (ext === '.json') return 'json';
  if (ext === '.js' || ext === '.cjs' || ext === '.mjs') return 'js';
  return 'yaml';
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    // Node 20: "... in JSON at position 14"; Node 22 adds "(line 3 column 3)".
    const pos = /at position (\d+)/.exec(message);
    const line = /\(line (\d+) column \d+\)/.exec(message);
    throw new ConfigFileError(
      `syntax error: ${message.replace(/ in JSON at position \d+.*$/, '')}`,
      file,
      line ? Number(line[1]) : pos ? lineAt(text, Number(pos[1])) : undefined,
      'fix the JSON (no trailing commas, no comments, keys in double quotes)',
    );
  }
}

interface YamlError extends Error {
  reason?: string;
  mark?: { line: number };
}

let yaml: { load(text: string, opts?: { filename?: string }): unknown } | undefined;

export function parseYaml(file: string, text: string): unknown {
  // js-yaml ships no types of its own: this is the one function used.
  yaml ??= require('js-yaml') as NonNullable<typeof yaml>;
  try {
    return yaml.load(text, { filename: file });
  } catch (err) {
    const e = err as YamlError;
    throw new ConfigFileError(
      `syntax error: ${e.reason ?? e.message.split('\n')[0]}`,
      file,
      e.mark ? e.mark.line + 1 : undefined,
      'fix the YAML (indent with spaces; JSON is valid YAML too)',
    );
  }
}

/** The line a JavaScript error points at in `file`, from its stack. */
export function jsErrorLine(err: unknown, file: string): number | undefined {
  const stack = String((err as Error)?.stack ?? '');
  for (const where of [file, pathToFileURL(file).href]) {
    const i = stack.indexOf(`${where}:`);
    if (i >= 0) {
      const m = /^:(\d+)/.exec(stack.slice(i + where.length));
      if (m) return Number(m[1]);
    }
  }
  return undefined;
}

/** ES module namespaces give their default export; CommonJS gives module.exports (unwrapping a transpiled default). */
export function moduleValue(mod: unknown): unknown {
  const m = mod as Record<PropertyKey, unknown> | null;
  if (m && typeof m === 'object' && (m[Symbol.toStringTag] === 'Module' || m.__esModule === true)) {
    return 'default' in m ? m.default : m;
  }
  return mod;
}

export function jsLoadError(err: unknown, file: string): ConfigFileError {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ERR_REQUIRE_ESM' || e?.code === 'ERR_REQUIRE_ASYNC_MODULE') {
    return new ConfigFileError(
      `cannot be loaded synchronously here (Node ${process.versions.node}: ${e.code})`,
      file,
      undefined,
      'the preload reads ES module config files with require(), which needs Node 20.19+ or 22.12+ and no top-level await; use a .cjs file (module.exports = {...}) or start through the otel-run CLI',
      'esm',
    );
  }
  const syntax = e instanceof SyntaxError;
  const first = String(e?.message ?? e).split('\n')[0];
  return new ConfigFileError(
    syntax ? `syntax error: ${first}` : `failed to load: ${first}`,
    file,
    jsErrorLine(err, file),
    syntax ? 'fix the JavaScript syntax' : 'the file threw while loading; run it with node to see why',
    syntax ? 'syntax' : undefined,
  );
}

/**
 * cosmiconfig-based tools merge the files a `$import` key names; otel-run reads a single file, and says so
 * rather than leave the others out in silence.
 */
export function refuseImports(file: string, config: unknown, text?: string, prefix: string[] = []): unknown {
  if (config && typeof config === 'object' && Object.hasOwn(config, '$import')) {
    throw new ConfigFileError(
      '"$import" is not supported',
      file,
      locateLine(text, [...prefix, '$import']),
      'otel-run reads a single config file (the preload reads it alone too): put everything in that file',
    );
  }
  return config;
}

/** A config module's value: a Promise cannot be waited for by the preload, so neither side uses one. */
function settledValue(file: string, value: unknown): unknown {
  if (
    value &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  ) {
    // Nothing waits for it: keep a rejection from surfacing as the app's unhandled rejection.
    (value as Promise<unknown>).then(undefined, () => {});
    throw new ConfigFileError(
      'exports a Promise',
      file,
      undefined,
      'export the settings object itself: the preload reads the config synchronously in every process and cannot wait for a Promise',
    );
  }
  return value;
}

/** Reads a config file (`known`: its text, when already read); throws ConfigFileError when it cannot be used. */
export function loadConfigFileSync(file: string, known?: string): LoadedConfig {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new ConfigFileError('config file not found', file, undefined, NOT_FOUND_HINT);
  if (st.isDirectory())
    throw new ConfigFileError('is a folder, not a config file', file, undefined, NOT_FOUND_HINT);
  // Every preloaded process reads the file at start: one far beyond any real config (a 50 MB one ran the
  // preload out of memory) is refused before it is read.
  if (st.size > MAX_CONFIG_BYTES)
    throw new ConfigFileError(
      `is ${st.size} bytes, more than otel-run reads (${MAX_CONFIG_BYTES} bytes)`,
      file,
      undefined,
      'every traced process reads the config file at start: keep it under 1 MiB, with fewer and wider patterns',
    );
  const kind = kindOf(file);
  if (kind === 'js') {
    let mod: unknown;
    try {
      mod = require(file);
    } catch (err) {
      throw jsLoadError(err, file);
    }
    return { file, config: refuseImports(file, settledValue(file, moduleValue(mod))), prefix: [] };
  }
  let text: string;
  try {
    text = known ?? fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigFileError(
      e.code === 'ENOENT' ? 'config file not found' : `cannot be read: ${e.code ?? e.message}`,
      file,
      undefined,
      NOT_FOUND_HINT,
    );
  }
  if (text.trim() === '') return { file, config: undefined, text, prefix: [] };
  if (isPackageJson(file)) {
    const json = parseJson(file, text) as Record<string, unknown> | null;
    const config = json && typeof json === 'object' ? json[MODULE_NAME] : undefined;
    refuseImports(file, config, text, [MODULE_NAME]);
    return { file, config: config ?? undefined, text, prefix: [MODULE_NAME] };
  }
  const config = kind === 'json' ? parseJson(file, text) : parseYaml(file, text);
  return { file, config: refuseImports(file, config, text) ?? undefined, text, prefix: [] };
}

/**
 * The first file of a search that holds settings (a file given by name counts even when empty), in the
 * search's order. Throws ConfigFileError for a file that cannot be used.
 */
export function loadFirst(search: Search): LoadedConfig | undefined {
  for (const file of search.files) {
    const loaded = loadConfigFileSync(file, search.texts.get(file));
    if (loaded.config !== undefined || search.named) return loaded;
  }
  return undefined;
}

/** loadFirst for the CLI, which can also load an ES module that require() cannot load on this Node. */
export async function loadFirstAsync(search: Search): Promise<LoadedConfig | undefined> {
  for (const file of search.files) {
    const loaded = await loadConfigFile(file, search.texts.get(file));
    if (loaded.config !== undefined || search.named) return loaded;
  }
  return undefined;
}

// tsc (module: commonjs) would turn a literal import() into require(); this keeps the real dynamic import.
const importModule = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

async function loadConfigFile(file: string, known?: string): Promise<LoadedConfig> {
  try {
    return loadConfigFileSync(file, known);
  } catch (err) {
    if (!(err instanceof ConfigFileError) || err.line !== undefined) throw err;
    if (err.reason === 'syntax') throw withSyntaxLine(err);
    if (err.reason !== 'esm') throw err;
  }
  try {
    return {
      file,
      config: refuseImports(
        file,
        settledValue(file, moduleValue(await importModule(pathToFileURL(file).href))),
      ),
      prefix: [],
    };
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const e = jsLoadError(err, file);
    throw e.reason === 'syntax' && e.line === undefined ? withSyntaxLine(e) : e;
  }
}

/** V8 reports an ES module's syntax error without its line; `node --check` prints it (on the error path only). */
function withSyntaxLine(err: ConfigFileError): ConfigFileError {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, ['--check', err.file], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 10_000,
  });
  const m = new RegExp(`^${escapeRegExp(err.file)}:(\\d+)`, 'm').exec(r.stderr ?? '');
  return new ConfigFileError(err.message, err.file, m ? Number(m[1]) : undefined, err.hint, err.reason);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The 1-based line where a key path sits in a JSON or YAML text, found by looking for each key in turn
 * after the previous one: good enough to point at a misspelt or mistyped key, and undefined when unsure.
 */
export function locateLine(text: string | undefined, keys: readonly string[]): number | undefined {
  if (text === undefined || keys.length === 0) return undefined;
  let from = 0;
  let at = -1;
  for (const key of keys) {
    const re = new RegExp(`(^|[\\s{,])(["']?)${escapeRegExp(key)}\\2\\s*:`, 'gm');
    re.lastIndex = from;
    const m = re.exec(text);
    if (!m) return undefined;
    at = m.index + m[1]!.length;
    from = re.lastIndex;
  }
  return at < 0 ? undefined : lineAt(text, at);
}
