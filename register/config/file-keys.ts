// A config file's keys, from the settings table: the flag name in camelCase (`serviceName`, `enable`), plus
// `instrumentations`. Shared by the validation (config/validate.ts), the editors' JSON Schema
// (config/json-schema.ts) and the generated reference (scripts/gen.js).
import { type SettingSpec, SPECS } from '../settings/table';
import { camelCase, kebabCase } from '../util/keys';

/** Settings that make no sense inside a config file (a file cannot name another). */
const NOT_IN_FILE = new Set<string>(['config']);

/** String settings that a file may also give as a number (`tracesSamplerArg: 0.25`). */
const NUMERIC_STRINGS = new Set<string>(['tracesSamplerArg']);

export const INSTRUMENTATIONS_KEY = 'instrumentations';

/** The flag: `--exporter-otlp-endpoint`, or the row's own name (`--enable`). */
export function flagName(spec: Pick<SettingSpec, 'key' | 'flag'>): string {
  return spec.flag ?? kebabCase(spec.key);
}

/** The file key: the flag name in camelCase (`enable`, `disable`), which is the settings key for the rest. */
export function fileKey(spec: Pick<SettingSpec, 'key' | 'flag'>): string {
  return spec.flag ? camelCase(spec.flag) : spec.key;
}

export function fileSpecs(specs: readonly SettingSpec[] = SPECS): SettingSpec[] {
  return specs.filter((s) => !NOT_IN_FILE.has(s.key));
}

export function acceptsNumber(spec: Pick<SettingSpec, 'key'>): boolean {
  return NUMERIC_STRINGS.has(spec.key);
}

/** "a whole number from 1 to 2147483647" — what a value of this setting must be, for messages. */
export function describeExpected(spec: SettingSpec): string {
  switch (spec.kind) {
    case 'string':
      return acceptsNumber(spec) ? 'a number or a string' : 'a string';
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
