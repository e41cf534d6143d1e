// Reads the OpenTelemetry configuration file OTEL_CONFIG_FILE names (declarative configuration, file_format
// 1.x) with @opentelemetry/configuration, the upstream parser: YAML, ${VAR:-default} substitution, the
// schema. Loaded only when the variable is set (about 80 modules, tens of ms). The library's own errors are
// weak in 0.223.0: YAML syntax errors are not checked (a broken line surfaces as a schema error elsewhere),
// no line numbers, one error only, and a newer minor file_format is only a diag message. So the document is
// also parsed here with the same `yaml` package, for its syntax errors and for the line of every key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Document, LineCounter } from 'yaml';

type Yaml = typeof import('yaml');
export type Model = Record<string, unknown>;

/** One key path in the file, as `tracer_provider.processors[0].batch` (segments: names and indexes). */
export type KeyPath = ReadonlyArray<string | number>;

export function showKey(keys: KeyPath): string {
  let out = '';
  for (const k of keys) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out || '(top level)';
}

/** A problem in the file, located: `<file>:<line>: <key>: <message>`. */
export class OtelConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly why: string,
    readonly line?: number,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${key ? `${key}: ` : ''}${why}`);
  }
}

export interface Located {
  readonly key: string;
  readonly line?: number;
  readonly message: string;
}

export interface ParsedFile {
  /** Absolute path. */
  file: string;
  model: Model;
  /** The 1-based line of a key path (the deepest key found). */
  lineOf(keys: KeyPath): number | undefined;
  /** Things that do not stop the file from being used: a newer minor file_format, unset ${VAR}s. */
  warnings: Located[];
  /** Unset ${VAR}s the spec's own templates leave unset on purpose (`key: ${OTEL_…}`): said at debug level. */
  notes: Located[];
  /** Every variable the file refers to. */
  references: Set<string>;
}

export const SUPPORTED_MAJOR = 1;
export const SUPPORTED_MINOR = 1;

function locate(yaml: Yaml, doc: Document, lc: LineCounter, keys: KeyPath): number | undefined {
  let node: unknown = doc.contents;
  let pos: number | undefined = (node as { range?: number[] } | null)?.range?.[0];
  for (const seg of keys) {
    if (yaml.isMap(node)) {
      const pair = node.items.find((p) => (yaml.isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      pos = (pair.key as { range?: number[] } | null)?.range?.[0] ?? pos;
      node = pair.value;
    } else if (yaml.isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      const start = (node as { range?: number[] } | null)?.range?.[0];
      if (start === undefined) break;
      pos = start;
    } else break;
  }
  return pos === undefined ? undefined : lc.linePos(pos).line;
}

// The library's substitution syntax (utils.js in 0.223.0): ${VAR}, ${env:VAR}, with `:-default`; `$$` escapes.
const REFERENCE = /\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g;

/** Every ${VAR} without a default whose variable is unset or empty (the library substitutes "" for both). */
function unsetReferences(
  yaml: Yaml,
  doc: Document,
  env: NodeJS.ProcessEnv,
  lineOf: (keys: KeyPath) => number | undefined,
): { warnings: Located[]; notes: Located[]; references: Set<string> } {
  const warnings: Located[] = [];
  const notes: Located[] = [];
  const references = new Set<string>();
  const visit = (node: unknown, keys: Array<string | number>) => {
    if (yaml.isMap(node)) {
      for (const pair of node.items) {
        const k = yaml.isScalar(pair.key) ? pair.key.value : pair.key;
        visit(pair.value, [...keys, String(k)]);
      }
    } else if (yaml.isSeq(node)) {
      node.items.forEach((item, i) => {
        visit(item, [...keys, i]);
      });
    } else if (yaml.isScalar(node) && typeof node.source === 'string') {
      const text = node.source;
      for (const m of text.matchAll(REFERENCE)) {
        const name = m[1];
        if (name) references.add(name);
        if (!name || m[2] !== undefined || env[name]?.trim()) continue;
        // The spec's migration template writes `key: ${OTEL_SPAN_…}` for every spec variable: left unset,
        // the key is null, which is the default. Anything else (a name of the user's, or a reference inside
        // a longer value such as `${COLLECTOR}/v1/traces`) most likely lost its value.
        const whole = text.trim() === m[0];
        const entry = {
          key: showKey(keys),
          line: lineOf(keys),
          message: `\${${name}} is not set and has no default — the value is ${whole ? 'empty (null)' : JSON.stringify(text.replace(m[0], ''))}`,
        };
        (whole && name.startsWith('OTEL_') ? notes : warnings).push(entry);
      }
    }
  };
  visit(doc.contents, []);
  return { warnings, notes, references };
}

/** The first ajv error of the library's pre-compiled validator (a module singleton keeps the last run's). */
function validatorError(): { instancePath: string; message?: string; extra?: string } | undefined {
  try {
    // Private to the package (no `exports` map in 0.223.0, so the deep path resolves): pinned exactly in
    // package.json; without it the library's own message is used.
    const v = require('@opentelemetry/configuration/build/src/generated/validator') as {
      errors?: Array<{ instancePath: string; message?: string; params?: { additionalProperty?: string } }>;
    };
    const e = v.errors?.[0];
    if (!e) return undefined;
    return { instancePath: e.instancePath, message: e.message, extra: e.params?.additionalProperty };
  } catch {
    return undefined;
  }
}

function pointerKeys(pointer: string): Array<string | number> {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `file_format`, checked here so the error names the key and its line (the library's names neither). */
function checkFileFormat(raw: unknown, fail: (why: string) => never, warn: (why: string) => void): void {
  if (typeof raw !== 'string' || !raw.trim())
    fail(
      `${raw === undefined ? 'missing' : `${JSON.stringify(raw)} is not a string`}: expected "MAJOR.MINOR" such as "1.1" (quoted: an unquoted 1.0 is the number 1)`,
    );
  const m = /^(\d+)\.(\d+)(?:-rc\.\d+)?$/.exec(raw.trim());
  if (!m) fail(`${JSON.stringify(raw)} is not a "MAJOR.MINOR" version`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== SUPPORTED_MAJOR)
    fail(`${JSON.stringify(raw)} is not supported: this version reads ${SUPPORTED_MAJOR}.x files`);
  if (minor > SUPPORTED_MINOR)
    warn(
      `${JSON.stringify(raw)} is newer than the ${SUPPORTED_MAJOR}.${SUPPORTED_MINOR} this version knows: keys added since are reported as not supported`,
    );
}

/**
 * Parses, substitutes and validates the file. Throws OtelConfigError (file, key, line) when it cannot be
 * used at all; what can be used with a caveat comes back in `warnings`.
 */
export function parseOtelConfigFile(given: string, cwd: string, env: NodeJS.ProcessEnv): ParsedFile {
  const file = path.resolve(cwd, given);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new OtelConfigError(
      file,
      '',
      e.code === 'ENOENT' ? 'file not found' : `cannot be read (${e.code ?? e.message})`,
    );
  }
  const yaml = require('yaml') as Yaml;
  const lc = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { version: '1.2', lineCounter: lc });
  const syntax = doc.errors[0];
  if (syntax) {
    throw new OtelConfigError(
      file,
      '(YAML)',
      `not valid YAML: ${(syntax.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      syntax.linePos?.[0]?.line,
    );
  }
  const lineOf = (keys: KeyPath) => locate(yaml, doc, lc, keys);
  const top = doc.toJS() as unknown;
  if (!top || typeof top !== 'object' || Array.isArray(top))
    throw new OtelConfigError(
      file,
      '(top level)',
      'expected a mapping with file_format and the providers',
      1,
    );

  const warnings: Located[] = [];
  const formatKey = ['file_format'];
  // Substituted as the library does, so file_format: ${VERSION:-1.1} works as it would upstream.
  let format = (top as Model).file_format;
  if (typeof format === 'string')
    format = format.replace(REFERENCE, (m, name: string | undefined, dflt: string | undefined) =>
      m === '$$' ? '$' : env[name ?? '']?.trim() || (dflt ?? ':-').slice(2),
    );
  checkFileFormat(
    format,
    (why) => {
      throw new OtelConfigError(file, 'file_format', why, lineOf(formatKey));
    },
    (why) => warnings.push({ key: 'file_format', line: lineOf(formatKey), message: why }),
  );
  const refs = unsetReferences(yaml, doc, env, lineOf);
  warnings.push(...refs.warnings);

  const { createConfigFactory } =
    require('@opentelemetry/configuration') as typeof import('@opentelemetry/configuration');
  // The library takes the path from the environment only, and falls back to reading every OTEL_* variable
  // when it is unset: it is set here, to the absolute path, for the duration of the call.
  const before = process.env.OTEL_CONFIG_FILE;
  process.env.OTEL_CONFIG_FILE = file;
  let model: Model;
  try {
    model = createConfigFactory().getConfigModel() as unknown as Model;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const ajv = validatorError();
    if (ajv) {
      const keys = [...pointerKeys(ajv.instancePath), ...(ajv.extra ? [ajv.extra] : [])];
      const why = ajv.extra ? `unknown key (${ajv.message ?? 'not allowed here'})` : (ajv.message ?? message);
      throw new OtelConfigError(file, showKey(keys), why, lineOf(keys));
    }
    const bad = /invalid env var substitution: (\$\{[^}]*\})/.exec(message);
    const stripped = message.replace(`${file}: `, '').replace(/^Invalid OpenTelemetry config file: /, '');
    const at = bad ? text.indexOf(bad[1] ?? '') : -1;
    throw new OtelConfigError(
      file,
      bad ? 'substitution' : '',
      bad ? `${bad[1]} is not valid (\${VAR}, \${VAR:-default}, \${env:VAR} or $$)` : stripped,
      at >= 0 ? text.slice(0, at).split('\n').length : undefined,
    );
  } finally {
    if (before === undefined) delete process.env.OTEL_CONFIG_FILE;
    else process.env.OTEL_CONFIG_FILE = before;
  }
  return { file, model, lineOf, warnings, notes: refs.notes, references: refs.references };
}
