// The JSON Schema of a config file, for editors (completion and inline errors through "$schema" or a
// yaml-language-server comment), built from the settings table. `npm run gen` writes it to
// schema/otel-run.schema.json; otel-run itself never reads it (config/validate.ts checks a file from the table).
import { DECLARATIVE_OPTIONS } from '../settings/instrumentation-options';
import { DEFAULTS, type SettingSpec, SPECS } from '../settings/table';
import { acceptsNumber, fileKey, fileSpecs, flagName, INSTRUMENTATIONS_KEY } from './file-keys';
import { describePlaces } from './search';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function valueSchema(spec: SettingSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'string':
      return acceptsNumber(spec) ? { type: ['string', 'number'] } : { type: 'string' };
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
    properties[fileKey(spec)] = prune({
      description: `${spec.description} (${spec.env}, --${flagName(spec)})`,
      ...valueSchema(spec),
      default: defaultOf(spec),
    });
  }
  properties[INSTRUMENTATIONS_KEY] = instrumentationsSchema();
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'otel-run configuration',
    description: `The settings of otel-run, in ${describePlaces()}. Precedence: command-line flag > OTEL_* environment variable > this file > defaults.`,
    type: 'object',
    properties,
    additionalProperties: false,
  };
}
