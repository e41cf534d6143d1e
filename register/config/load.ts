// Reads one config file, synchronously: the preload's loader, and the CLI's loaders for the data formats (so
// both report a syntax error the same way, with its line). JSON is JSON.parse; YAML (and the extensionless
// .otel-runrc, which may be either) is js-yaml; .js/.cjs/.mjs are required. Loaded only once a config file
// was found.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MODULE_NAME } from './search';

/** A config file that cannot be used at all, or one problem in it; `line` is 1-based. */
export class ConfigFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

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
    );
  }
  const syntax = e instanceof SyntaxError;
  const first = String(e?.message ?? e).split('\n')[0];
  return new ConfigFileError(
    syntax ? `syntax error: ${first}` : `failed to load: ${first}`,
    file,
    jsErrorLine(err, file),
    syntax ? 'fix the JavaScript syntax' : 'the file threw while loading; run it with node to see why',
  );
}

/**
 * cosmiconfig would merge the files a `$import` key names; the preload reads one file without cosmiconfig, so
 * both refuse it rather than disagree.
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

/** Reads a config file; throws ConfigFileError when it cannot be read or parsed. */
export function loadConfigFileSync(file: string): LoadedConfig {
  const kind = kindOf(file);
  if (kind === 'js') {
    let mod: unknown;
    try {
      mod = require(file);
    } catch (err) {
      throw jsLoadError(err, file);
    }
    return { file, config: refuseImports(file, moduleValue(mod)), prefix: [] };
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigFileError(
      e.code === 'ENOENT' ? 'config file not found' : `cannot be read: ${e.code ?? e.message}`,
      file,
      undefined,
      `check the path given by --config or OTEL_RUN_CONFIG`,
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
