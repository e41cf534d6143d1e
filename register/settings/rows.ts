// How a row of the settings table is made. A row is built by the function of its kind (`text`, `int`, `flag`,
// `oneOf`, `anyOf`, `names`, `pairs`), which also gives it the parser of that kind; the parser's result type is
// the kind's value type, and the table (settings/table.ts) only accepts a row whose value type is the type of
// its `Settings` field. So a row of the wrong kind does not compile, and reading a value needs no cast.
import type { Settings } from './types';

export type Kind = 'string' | 'int' | 'float' | 'boolean' | 'enum' | 'enumList' | 'list' | 'kv';

export type Group =
  | 'General'
  | 'Resource'
  | 'Exporters'
  | 'OTLP exporter'
  | 'Sampling and propagation'
  | 'Batching and limits'
  | 'Instrumentations'
  | 'Metrics and logs'
  | 'otel-run';

/** What every row says, whatever its kind. */
export interface RowText<K extends keyof Settings> {
  /** camelCase: the `Settings` field and the config-file key; the flag is its kebab-case form. */
  readonly key: K;
  readonly env: string;
  readonly group: Group;
  readonly description: string;
  /** Never printed: diagnostics show a reference to the variable instead. */
  readonly secret?: boolean;
  /** Set only as a flag/file key with a name of its own (--enable, --disable, --config). */
  readonly flag?: string;
}

/** Turns a variable's text into the value; says what is wrong through `problem` (the first complaint counts). */
export type Parse<V> = (raw: string, problem: (why: string) => void) => V | undefined;

/** What a row says about itself, without its value type: enough to describe it (flags, help, schema). */
export interface RowInfo<K extends keyof Settings = keyof Settings> extends RowText<K> {
  readonly kind: Kind;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

export interface Row<V, K extends keyof Settings> extends RowInfo<K> {
  readonly parse: Parse<V>;
}

/**
 * A row of the table: for each field, a row whose value type is the field's type (a union over the fields,
 * written as a mapped type over K so that TypeScript keeps a row's key and value type paired in generic code).
 */
export type SettingSpec<K extends keyof Settings = keyof Settings> = {
  [P in K]-?: Row<NonNullable<Settings[P]>, P>;
}[K];

function isOneOf<V extends string>(values: readonly V[], value: string): value is V {
  return (values as readonly string[]).includes(value);
}

/**
 * Parses `key=value,key2=value2` as the spec's OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS
 * (W3C Baggage octets: values percent-decoded). A malformed entry is skipped and reported; the rest is kept.
 */
export function parseKeyValueList(
  raw: string,
  bad: (entry: string, why: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (!entry) continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      bad(entry, 'expected key=value');
      continue;
    }
    const key = entry.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      bad(entry, 'bad percent-encoding');
    }
  }
  return out;
}

function items(raw: string, lower: boolean): string[] {
  return raw
    .split(',')
    .map((s) => (lower ? s.trim().toLowerCase() : s.trim()))
    .filter(Boolean);
}

/** A free-form string. */
export function text<K extends keyof Settings>(row: RowText<K>): Row<string, K> {
  return { ...row, kind: 'string', parse: (raw) => raw.trim() || undefined };
}

/** true or false; an empty value is false. */
export function flag<K extends keyof Settings>(row: RowText<K>): Row<boolean, K> {
  return {
    ...row,
    kind: 'boolean',
    parse(raw, problem) {
      const lower = raw.trim().toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false' || lower === '') return false;
      problem('expected true or false');
      return undefined;
    },
  };
}

function number<K extends keyof Settings>(
  kind: 'int' | 'float',
  row: RowText<K> & { readonly min?: number; readonly max?: number },
): Row<number, K> {
  return {
    ...row,
    kind,
    parse(raw, problem) {
      const trimmed = raw.trim();
      if (trimmed === '') return undefined;
      const n = Number(trimmed);
      if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
        problem(kind === 'int' ? 'expected a whole number' : 'expected a number');
        return undefined;
      }
      if ((row.min !== undefined && n < row.min) || (row.max !== undefined && n > row.max)) {
        problem(`expected a number from ${row.min ?? '-∞'} to ${row.max ?? '∞'}`);
        return undefined;
      }
      return n;
    },
  };
}

/** A whole number from `min` to `max`. */
export function int<K extends keyof Settings>(
  row: RowText<K> & { readonly min: number; readonly max: number },
): Row<number, K> {
  return number('int', row);
}

/** Any finite number, optionally bounded. */
export function float<K extends keyof Settings>(
  row: RowText<K> & { readonly min?: number; readonly max?: number },
): Row<number, K> {
  return number('float', row);
}

/** One of `values` (lower case, as the spec writes them); the field's type is their union. */
export function oneOf<const V extends string, K extends keyof Settings>(
  values: readonly V[],
  row: RowText<K>,
): Row<V, K> {
  return {
    ...row,
    kind: 'enum',
    values,
    parse(raw, problem) {
      const lower = raw.trim().toLowerCase();
      if (lower === '') return undefined;
      if (isOneOf(values, lower)) return lower;
      problem(`expected one of ${values.join(', ')}`);
      return undefined;
    },
  };
}

/** A comma-separated list of `values`; unknown entries are reported and the known ones kept. */
export function anyOf<K extends keyof Settings>(
  values: readonly string[],
  row: RowText<K>,
): Row<string[], K> {
  return {
    ...row,
    kind: 'enumList',
    values,
    parse(raw, problem) {
      const all = items(raw, true);
      const unknown = all.filter((i) => !values.includes(i));
      if (unknown.length === 0) return all;
      problem(`unknown ${unknown.join(', ')}: expected any of ${values.join(', ')}`);
      const known = all.filter((i) => values.includes(i));
      return known.length ? known : undefined;
    },
  };
}

/** A comma-separated list of names. */
export function names<K extends keyof Settings>(row: RowText<K>): Row<string[], K> {
  return { ...row, kind: 'list', parse: (raw) => items(raw, false) };
}

/** `key=value,…` pairs (resource attributes, headers). */
export function pairs<K extends keyof Settings>(row: RowText<K>): Row<Record<string, string>, K> {
  return {
    ...row,
    kind: 'kv',
    parse: (raw, problem) =>
      parseKeyValueList(raw.trim(), (entry, why) =>
        problem(`${why} in ${row.secret ? 'an entry' : JSON.stringify(entry)}; that entry is skipped`),
      ),
  };
}
