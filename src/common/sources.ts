// How `otel-run doctor` and `otel-run env` show a resolved setting (src/common/config.ts resolves them).
import { readSettings, type SettingSpec, type Settings } from '../../register/settings/table';
import { redactUrls } from '../../register/util/redact';

export type { Origin, Source } from '../../register/config/resolve';

/** A setting's value for display: secrets show their keys only, never a value. */
export function displayValue(spec: SettingSpec, settings: Settings): string {
  return redactUrls(rawDisplay(spec, settings));
}

function rawDisplay(spec: SettingSpec, settings: Settings): string {
  const value = settings[spec.key];
  if (value === undefined) return '(unset)';
  if (spec.secret) {
    const keys = value && typeof value === 'object' ? Object.keys(value) : [];
    return keys.length ? keys.map((k) => `${k}=<redacted>`).join(',') : '(none)';
  }
  if (Array.isArray(value)) return value.join(',') || '(none)';
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '(none)';
  }
  return String(value);
}

/** Whether the parsed value differs from the spec default (what `env` prints). */
export function differsFromDefault(spec: SettingSpec, raw: string): boolean {
  const parsed = readSettings({ [spec.env]: raw });
  const base = readSettings({});
  return JSON.stringify(parsed[spec.key]) !== JSON.stringify(base[spec.key]);
}
