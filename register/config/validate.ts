// One validation for the CLI and the preload: the config file's content is checked against the JSON Schema
// (ajv, precompiled into schema/validate.cjs by scripts/gen-schema.js), every problem is described from the
// settings table, and what is valid becomes the same environment variables a flag would set.
import * as path from 'node:path';
import { OWN_ROOT } from '../contract';
import { DECLARATIVE_OPTIONS, hasFunctions } from '../settings/instrumentation-options';
import { parseKeyValueList, readSettings, type SettingSpec, SPECS } from '../settings/table';
import * as log from '../util/stderr';
import { buildSchema, describeExpected, fileKey, fileSpecs, INSTRUMENTATIONS_KEY } from './schema';

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

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type Validate = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

let validator: Validate | undefined;

/** The precompiled validator; if it is missing (a build without scripts/gen-schema.js), ajv compiles one. */
export function loadValidator(): Validate {
  if (validator) return validator;
  try {
    validator = require(path.join(OWN_ROOT, 'schema', 'validate.cjs')) as Validate;
  } catch (err) {
    log.debug(`schema/validate.cjs not loaded (${log.reason(err)}): compiling the schema with ajv`);
    const Ajv = require('ajv') as typeof import('ajv').default;
    validator = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(buildSchema()) as Validate;
  }
  return validator;
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
  const s = JSON.stringify(value) ?? String(value);
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

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Turns a valid value into the variable's text, as readSettings parses it. */
function toEnvValue(spec: SettingSpec, value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  if (spec.kind === 'kv' && isPlainObject(value)) {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
      .join(',');
  }
  return String(value);
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
  const validate = loadValidator();
  const badKeys = new Set<string>();
  const badInstrumentations = new Set<string>();
  const badOptions = new Set<string>();
  const report = (problem: ConfigProblem) => {
    if (!out.problems.some((p) => p.message === problem.message)) out.problems.push(problem);
  };

  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const at = e.instancePath.split('/').slice(1).map(unescapePointer);
      const [key, name, option] = at;
      if (key === undefined) {
        if (e.keyword !== 'additionalProperties') continue;
        const unknown = String(e.params.additionalProperty);
        badKeys.add(unknown);
        const suggestion = suggestKey(unknown);
        report({
          message: `unknown key ${JSON.stringify(unknown)}`,
          hint: suggestion
            ? `did you mean ${JSON.stringify(suggestion)}?`
            : 'the keys are the flag names in camelCase (otel-run --help), plus "instrumentations"',
          line: locate([unknown]),
          instead: 'the key is ignored',
        });
        continue;
      }
      if (key === INSTRUMENTATIONS_KEY) {
        if (name === undefined) {
          badKeys.add(key);
          report({
            message: `${key} must be an object of { <instrumentor name>: { options } }, not ${show(raw[key])}`,
            hint: 'e.g. instrumentations: { http: { ignoreIncomingPaths: ["/health"] } }',
            line: locate([key]),
            instead: 'instrumentors use their default options',
          });
        } else if (option === undefined) {
          badInstrumentations.add(name);
          const value = (raw[key] as Record<string, unknown>)[name];
          report({
            message: `${key}.${name} must be an object of options, not ${show(value)}`,
            hint: `e.g. ${name}: { enabled: true }; names as in \`otel-run list\``,
            line: locate([key, name]),
            instead: `${name} uses its default options`,
          });
        } else {
          badOptions.add(`${name}\0${option}`);
          const value = ((raw[key] as Record<string, unknown>)[name] as Record<string, unknown>)[option];
          const declared = DECLARATIVE_OPTIONS[name]?.[option];
          report({
            message: `${key}.${name}.${option} must be ${declared ? 'a list of patterns (an array of strings, or one comma-separated string)' : 'true or false'}, not ${show(value)}`,
            hint: declared ? `e.g. ${option}: ["/health", "/ready*"]` : `e.g. ${option}: false`,
            line: locate([key, name, option]),
            instead: 'that option is ignored',
          });
        }
        continue;
      }
      const spec = specsByKey.get(key);
      if (!spec || badKeys.has(key)) continue;
      badKeys.add(key);
      report({
        message: `${key} must be ${describeExpected(spec)}, not ${show(raw[key], spec.secret)}`,
        hint: spec.values
          ? `allowed values: ${spec.values.join(', ')}`
          : `see ${spec.env} in otel-run --help`,
        line: locate([key]),
        instead: `the key is ignored (${spec.env} or the default applies)`,
      });
    }
  }

  for (const [key, value] of Object.entries(raw)) {
    if (badKeys.has(key) || value === undefined || value === null) continue;
    const spec = specsByKey.get(key);
    if (spec) out.env[spec.env] = toEnvValue(spec, value);
  }
  // The schema mirrors the table, so this finds nothing unless the two disagree; then the table decides.
  readSettings(out.env, (p) => {
    const spec = SPECS.find((s) => s.env === p.source);
    if (!spec) return;
    delete out.env[p.source];
    report({
      message: `${fileKey(spec)}: ${p.message.replace(/ — .*$/, '')}`,
      hint: `see ${spec.env} in otel-run --help`,
      line: locate([fileKey(spec)]),
      instead: 'the key is ignored',
    });
  });

  const instrumentations = raw[INSTRUMENTATIONS_KEY];
  if (!badKeys.has(INSTRUMENTATIONS_KEY) && isPlainObject(instrumentations)) {
    for (const [name, options] of Object.entries(instrumentations)) {
      if (badInstrumentations.has(name) || !isPlainObject(options)) continue;
      const kept: Record<string, unknown> = {};
      for (const [option, value] of Object.entries(options)) {
        if (!badOptions.has(`${name}\0${option}`)) kept[option] = value;
      }
      out.instrumentations[name] = kept;
    }
    out.hasFunctions = hasFunctions(out.instrumentations);
  }
  // In file order, as an editor shows them.
  out.problems.sort((a, b) => (a.line ?? Number.MAX_VALUE) - (b.line ?? Number.MAX_VALUE));
  return out;
}

/**
 * The variables of the settings table from several sources, lowest precedence first: each variable comes
 * from the highest source that has it, except the resource attributes, which merge per key (DECISIONS).
 */
export function layerEnv(
  layers: ReadonlyArray<Readonly<Record<string, string | undefined>>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of SPECS) {
    const values = layers.map((l) => l[spec.env]).filter((v): v is string => v !== undefined);
    if (values.length === 0) continue;
    if (spec.key === 'resourceAttributes' && values.length > 1) {
      const merged: Record<string, string> = {};
      for (const v of values)
        Object.assign(
          merged,
          parseKeyValueList(v, () => {}),
        );
      out[spec.env] = Object.entries(merged)
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
        .join(',');
    } else {
      out[spec.env] = values[values.length - 1]!;
    }
  }
  return out;
}

/** Per-instrumentor options from several sources, lowest first: merged per instrumentor, key by key. */
export function layerInstrumentations(layers: ReadonlyArray<Instrumentations | undefined>): Instrumentations {
  const out: Instrumentations = {};
  for (const layer of layers) {
    for (const [name, options] of Object.entries(layer ?? {})) {
      if (isPlainObject(options)) out[name] = { ...out[name], ...options };
    }
  }
  return out;
}
