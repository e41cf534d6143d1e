// The config file's keys and JSON Schema, built from the settings table (SPECS): a new setting is a new key
// with no other edit. scripts/gen-schema.js writes the schema to schema/otel-run.schema.json (for editors) and
// compiles it with ajv's standalone code generation into schema/validate.cjs, so neither the CLI nor the
// preload compiles a schema at run time.
import { DECLARATIVE_OPTIONS } from '../settings/instrumentation-options';
import { DEFAULTS, type SettingSpec, SPECS } from '../settings/table';

/** Settings that make no sense inside a config file. */
const NOT_IN_FILE = new Set<string>(['config']);

/** String settings that a file may also give as a number (`tracesSamplerArg: 0.25`). */
const NUMERIC_STRINGS = new Set<string>(['tracesSamplerArg']);

export const INSTRUMENTATIONS_KEY = 'instrumentations';

function camel(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The file key: the flag name in camelCase (`enable`, `disable`), which is the settings key for the rest. */
export function fileKey(spec: SettingSpec): string {
  return spec.flag ? camel(spec.flag) : spec.key;
}

export function fileSpecs(specs: readonly SettingSpec[] = SPECS): SettingSpec[] {
  return specs.filter((s) => !NOT_IN_FILE.has(s.key));
}

/** "a whole number from 1 to 2147483647" — what a value of this setting must be, for messages. */
export function describeExpected(spec: SettingSpec): string {
  switch (spec.kind) {
    case 'string':
      return NUMERIC_STRINGS.has(spec.key) ? 'a number or a string' : 'a string';
    case 'int':
      return `a whole number${spec.min !== undefined ? ` from ${spec.min}` : ''}${spec.max !== undefined ? ` to ${spec.max}` : ''}`;
    case 'float':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.values?.join(', ')}`;
    case 'enumList':
      return `a list of ${spec.values?.join(', ')} (an array, or one comma-separated string)`;
    case 'list':
      return 'a list of names (an array, or one comma-separated string)';
    case 'kv':
      return 'an object of key: value (or one "key=value,key2=value2" string)';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function valueSchema(spec: SettingSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'string':
      return NUMERIC_STRINGS.has(spec.key) ? { type: ['string', 'number'] } : { type: 'string' };
    case 'int':
      return { type: 'integer', minimum: spec.min, maximum: spec.max };
    case 'float':
      return { type: 'number', minimum: spec.min, maximum: spec.max };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...(spec.values ?? [])] };
    case 'enumList': {
      const one = `(${(spec.values ?? []).map(escapeRegExp).join('|')})`;
      return {
        anyOf: [
          { type: 'array', items: { type: 'string', enum: [...(spec.values ?? [])] } },
          { type: 'string', pattern: `^\\s*(${one}(\\s*,\\s*${one})*)?\\s*$` },
        ],
      };
    }
    case 'list':
      return { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] };
    case 'kv':
      return {
        anyOf: [
          {
            type: 'object',
            // The variable's format has no escape for these in a key.
            propertyNames: { pattern: '^[^,=]+$' },
            additionalProperties: { type: ['string', 'number', 'boolean'] },
          },
          { type: 'string' },
        ],
      };
  }
}

function defaultOf(spec: SettingSpec): unknown {
  const value = DEFAULTS[spec.key];
  if (value === undefined || spec.secret) return undefined;
  if (spec.kind === 'kv' && value && typeof value === 'object' && Object.keys(value).length === 0)
    return undefined;
  return value;
}

function prune(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const PATTERNS = { anyOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] };

function instrumentationsSchema(): Record<string, unknown> {
  const known: Record<string, unknown> = {};
  for (const [name, options] of Object.entries(DECLARATIVE_OPTIONS)) {
    const properties: Record<string, unknown> = {
      enabled: { type: 'boolean', description: 'false: this instrumentor is loaded but not enabled' },
    };
    for (const [key, option] of Object.entries(options)) {
      properties[key] = { ...PATTERNS, description: option.description };
    }
    known[name] = { type: 'object', properties };
  }
  return {
    type: 'object',
    description:
      'Options per instrumentor (names as in `otel-run list`), handed to its constructor or instrument(). Plain data passes through unchanged; a .js/.cjs/.mjs file may also give functions (hooks).',
    properties: known,
    additionalProperties: {
      type: 'object',
      properties: {
        enabled: { type: 'boolean', description: 'false: this instrumentor is loaded but not enabled' },
      },
    },
  };
}

/** The JSON Schema (draft-07) of a config file. */
export function buildSchema(specs: readonly SettingSpec[] = SPECS): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    $schema: { type: 'string', description: 'this schema, for editors' },
  };
  for (const spec of fileSpecs(specs)) {
    const flag = spec.flag ?? spec.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    properties[fileKey(spec)] = prune({
      description: `${spec.description} (${spec.env}, --${flag})`,
      ...valueSchema(spec),
      default: defaultOf(spec),
    });
  }
  properties[INSTRUMENTATIONS_KEY] = instrumentationsSchema();
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'otel-run configuration',
    description:
      'A .otel-runrc(.json|.yaml|.yml|.js|.cjs|.mjs), otel-run.config.(js|cjs|mjs) or the "otel-run" key of package.json. Precedence: command-line flag > OTEL_* environment variable > this file > defaults.',
    type: 'object',
    properties,
    additionalProperties: false,
  };
}
