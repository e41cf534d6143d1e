// One validation of a config file, for the CLI and the preload, driven by the settings table: each value must
// have the JSON type of its row's kind, and then means what the same text means in the row's variable (the
// row's own parser reads it, so a file and a variable can never disagree). Every problem is described from the
// table, with the closest known key for an unknown one; what is valid becomes the variables a flag would set.
import { DECLARATIVE_OPTIONS, hasFunctions, toPatterns } from '../settings/instrumentation-options';
import { MAX_VALUE_LENGTH, type SettingSpec, SPECS } from '../settings/table';
import { redactUrls } from '../util/redact';
import { acceptsNumber, describeExpected, fileKey, fileSpecs, INSTRUMENTATIONS_KEY } from './file-keys';

/** One problem in a config file; what it concerns is left out of the result. */
export interface ConfigProblem {
  readonly message: string;
  readonly hint?: string;
  readonly line?: number;
  /** What the preload does instead, for its one-line warning. */
  readonly instead: string;
}

export type Instrumentations = Record<string, Record<string, unknown>>;

export interface CheckedConfig {
  /** The valid settings, as the variables a flag would set (OTEL_SERVICE_NAME=…). */
  env: Record<string, string>;
  /** The valid per-instrumentor options, functions included. */
  instrumentations: Instrumentations;
  /** Some per-instrumentor option is a function (a .js config): it cannot travel as JSON. */
  hasFunctions: boolean;
  problems: ConfigProblem[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function show(value: unknown, secret = false): string {
  if (secret) return '(redacted)';
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const s = JSON.stringify(value);
    return s.length > 60 ? 'an array' : s;
  }
  if (typeof value === 'object') return 'an object';
  const s = redactUrls(JSON.stringify(value) ?? String(value));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The known key a misspelt, kebab-case, env-style or settings-style key most likely meant. */
export function suggestKey(unknown: string, specs: readonly SettingSpec[] = SPECS): string | undefined {
  const keys = [...fileSpecs(specs).map(fileKey), INSTRUMENTATIONS_KEY];
  const norm = (s: string) => s.replace(/[-_]/g, '').toLowerCase();
  for (const spec of fileSpecs(specs)) {
    const key = fileKey(spec);
    if (unknown === spec.key || unknown === spec.env || norm(unknown) === norm(key)) return key;
  }
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const key of keys) {
    const d = levenshtein(norm(unknown), norm(key));
    if (d < bestDistance) {
      best = key;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 4)) ? best : undefined;
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/**
 * A file value as its variable's text, when its JSON type fits the row's kind (numbers as numbers, lists as
 * arrays or one string, key/value pairs as an object or one string); undefined when it does not.
 */
function toEnvText(spec: SettingSpec, value: unknown): string | undefined {
  switch (spec.kind) {
    case 'string':
      return typeof value === 'string' || (acceptsNumber(spec) && typeof value === 'number')
        ? String(value)
        : undefined;
    case 'int':
    case 'float':
      return typeof value === 'number' ? String(value) : undefined;
    case 'boolean':
      return typeof value === 'boolean' ? String(value) : undefined;
    case 'enum':
      return typeof value === 'string' ? value : undefined;
    case 'enumList':
    case 'list':
      if (typeof value === 'string') return value;
      // An array item with a comma would read as two.
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && !v.includes(','))
        ? value.join(',')
        : undefined;
    case 'kv':
      if (typeof value === 'string') return value;
      if (!isPlainObject(value)) return undefined;
      // The variable's format has no escape for these in a key.
      if (!Object.entries(value).every(([k, v]) => k !== '' && !/[,=]/.test(k) && isScalar(v)))
        return undefined;
      return Object.entries(value)
        .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
        .join(',');
  }
}

/** The text a valid file value stands for, or what is wrong with it. */
function checkValue(spec: SettingSpec, value: unknown): { text: string } | { problem: string } {
  const key = fileKey(spec);
  const wrong = { problem: `${key} must be ${describeExpected(spec)}, not ${show(value, spec.secret)}` };
  const text = toEnvText(spec, value);
  if (text === undefined) return wrong;
  if (text.length > MAX_VALUE_LENGTH)
    return { problem: `${key} is ${text.length} characters long: too long` };
  let complaint = false;
  spec.parse(text, () => {
    complaint = true;
  });
  return complaint ? wrong : { text };
}

function checkInstrumentations(
  value: unknown,
  out: CheckedConfig,
  report: (p: ConfigProblem) => void,
  locate: (keys: string[]) => number | undefined,
): void {
  const key = INSTRUMENTATIONS_KEY;
  if (!isPlainObject(value)) {
    report({
      message: `${key} must be an object of { <instrumentor name>: { options } }, not ${show(value)}`,
      hint: 'e.g. instrumentations: { http: { ignoreIncomingPaths: ["/health"] } }',
      line: locate([key]),
      instead: 'instrumentors use their default options',
    });
    return;
  }
  for (const [name, options] of Object.entries(value)) {
    if (!isPlainObject(options)) {
      report({
        message: `${key}.${name} must be an object of options, not ${show(options)}`,
        hint: `e.g. ${name}: { enabled: true }; names as in \`otel-run list\``,
        line: locate([key, name]),
        instead: `${name} uses its default options`,
      });
      continue;
    }
    const kept: Record<string, unknown> = {};
    for (const [option, given] of Object.entries(options)) {
      const declared = DECLARATIVE_OPTIONS[name]?.[option];
      const bad = declared
        ? toPatterns(given) === undefined
        : option === 'enabled' && typeof given !== 'boolean';
      if (!bad) {
        kept[option] = given;
        continue;
      }
      report({
        message: `${key}.${name}.${option} must be ${declared ? 'a list of patterns (an array of strings, or one comma-separated string)' : 'true or false'}, not ${show(given)}`,
        hint: declared ? `e.g. ${option}: ["/health", "/ready*"]` : `e.g. ${option}: false`,
        line: locate([key, name, option]),
        instead: 'that option is ignored',
      });
    }
    out.instrumentations[name] = kept;
  }
  out.hasFunctions = hasFunctions(out.instrumentations);
}

/**
 * Checks what a config file holds. `locate(keys)` gives the line of a key path when the text is known.
 * Invalid keys are left out (and reported); the rest is returned.
 */
export function checkConfig(
  raw: unknown,
  locate: (keys: string[]) => number | undefined = () => undefined,
): CheckedConfig {
  const out: CheckedConfig = { env: {}, instrumentations: {}, hasFunctions: false, problems: [] };
  if (raw === undefined || raw === null) return out;
  if (!isPlainObject(raw)) {
    out.problems.push({
      message: `the file must hold an object of settings, not ${Array.isArray(raw) ? 'an array' : show(raw)}`,
      hint: 'e.g. { "serviceName": "api" }; see schema/otel-run.schema.json',
      line: 1,
      instead: 'the file is ignored',
    });
    return out;
  }
  const specsByKey = new Map(fileSpecs().map((s) => [fileKey(s), s]));
  const report = (problem: ConfigProblem) => {
    if (!out.problems.some((p) => p.message === problem.message)) out.problems.push(problem);
  };
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (key === INSTRUMENTATIONS_KEY) {
      checkInstrumentations(value, out, report, locate);
      continue;
    }
    // For editors: "$schema": "./node_modules/otel-run/schema/otel-run.schema.json".
    if (key === '$schema' && typeof value === 'string') continue;
    const spec = specsByKey.get(key);
    if (!spec) {
      const suggestion = suggestKey(key);
      report({
        message: `unknown key ${JSON.stringify(key)}`,
        hint: suggestion
          ? `did you mean ${JSON.stringify(suggestion)}?`
          : 'the keys are the flag names in camelCase (otel-run --help), plus "instrumentations"',
        line: locate([key]),
        instead: 'the key is ignored',
      });
      continue;
    }
    const checked = checkValue(spec, value);
    if ('text' in checked) {
      out.env[spec.env] = checked.text;
      continue;
    }
    report({
      message: checked.problem,
      hint: spec.values ? `allowed values: ${spec.values.join(', ')}` : `see ${spec.env} in otel-run --help`,
      line: locate([key]),
      instead: `the key is ignored (${spec.env} or the default applies)`,
    });
  }
  // In file order, as an editor shows them.
  out.problems.sort((a, b) => (a.line ?? Number.MAX_VALUE) - (b.line ?? Number.MAX_VALUE));
  return out;
}
