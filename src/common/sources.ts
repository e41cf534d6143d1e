// The resolved settings and where each one came from (flag > environment > config file > default), for
// `otel-run doctor` (which shows the sources) and `otel-run env` (which prints the variables a child gets).
import {
  type Problem,
  readSettings,
  type SettingSpec,
  type Settings,
  SPECS,
} from '../../register/settings/table';

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Origin {
  source: Source;
  /** The raw text as given; absent for defaults. */
  raw?: string;
  /** For `file`: the config file's path. */
  file?: string;
}

export interface Resolved {
  settings: Settings;
  /** Every setting's variable, with where its value came from. */
  origins: Record<string, Origin>;
  /** The variables a child process gets from flags, environment and file (not the defaults). */
  vars: Record<string, string>;
  problems: Problem[];
  configFile?: string;
  fileLayer?: FileLayer;
}

/** The config-file layer: the file's settings as the variables they stand for. */
export interface FileLayer {
  file: string;
  vars: Record<string, string>;
  /** Per-instrumentor options, as the CLI hands them down in OTEL_RUN_INSTRUMENTATIONS. */
  instrumentations?: Record<string, unknown>;
}

/**
 * The config file that applies here (src/common/config.ts: the one --config / OTEL_RUN_CONFIG names, else the first
 * found from `cwd` up). Throws ConfigError when the file has problems.
 */
export function readFileLayer(cwd: string, env: NodeJS.ProcessEnv): FileLayer | undefined {
  const { readConfigLayerSync } = require('./config') as typeof import('./config');
  return readConfigLayerSync(cwd, env);
}

export function resolveSettings(
  flags: Record<string, string>,
  env: NodeJS.ProcessEnv,
  cwd: string,
  /** null: leave the config file out (doctor, when the file itself is broken). */
  given?: FileLayer | null,
): Resolved {
  const fileLayer = given === undefined ? readFileLayer(cwd, { ...env, ...flags }) : (given ?? undefined);
  const origins: Record<string, Origin> = {};
  const vars: Record<string, string> = {};
  for (const spec of SPECS) {
    const flag = flags[spec.env];
    const fromEnv = env[spec.env];
    const fromFile = fileLayer?.vars[spec.env];
    if (flag !== undefined) origins[spec.env] = { source: 'flag', raw: flag };
    else if (fromEnv !== undefined) origins[spec.env] = { source: 'env', raw: fromEnv };
    else if (fromFile !== undefined && fileLayer)
      origins[spec.env] = { source: 'file', raw: fromFile, file: fileLayer.file };
    else origins[spec.env] = { source: 'default' };
  }
  // The values themselves are layered as the CLI layers them (resource attributes merge key by key).
  const { layerEnv } =
    require('../../register/config/validate') as typeof import('../../register/config/validate');
  Object.assign(vars, layerEnv([fileLayer?.vars ?? {}, env, flags]));
  const problems: Problem[] = [];
  const settings = readSettings(vars, (p) => problems.push(p));
  const resolved: Resolved = { settings, origins, vars, problems, configFile: fileLayer?.file, fileLayer };
  // The OpenTelemetry configuration file replaces the OTEL_* layer (src/common/otel-config.ts).
  if (!vars.OTEL_CONFIG_FILE?.trim()) return resolved;
  const { withOtelConfig } = require('./otel-config') as typeof import('./otel-config');
  return withOtelConfig(resolved, cwd);
}

/** A setting's value for display: secrets show their keys only, never a value. */
export function displayValue(spec: SettingSpec, settings: Settings): string {
  const value = settings[spec.key];
  if (value === undefined) return '(unset)';
  if (spec.secret) {
    const keys = value && typeof value === 'object' ? Object.keys(value as object) : [];
    return keys.length ? keys.map((k) => `${k}=<redacted>`).join(',') : '(none)';
  }
  if (Array.isArray(value)) return value.join(',') || '(none)';
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, string>);
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

/** `--view` for doctor and env: what `otel-run --view` does, once the file is layered (src/cli.ts applyView). */
export function withViewDefaults(resolved: Resolved, off: readonly string[]): Resolved {
  const vars = { ...resolved.vars };
  const origins = { ...resolved.origins };
  for (const name of off) {
    if (origins[name] && origins[name].source !== 'default') continue;
    vars[name] = 'none';
    origins[name] = { source: 'flag', raw: 'none' };
  }
  return { ...resolved, vars, origins, settings: readSettings(vars) };
}
