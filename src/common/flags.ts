// The flags every command shares: one per row of the settings table, turned into the variables they set.
// Used by the run command and by the subcommands that resolve settings (env, doctor).
import * as fs from 'node:fs';
import { type Command, Option } from 'commander';
import { fileKey, flagName } from '../../register/config/file-keys';
import { type Problem, readSettings, type SettingSpec, SPECS } from '../../register/settings/table';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Flags for every setting, generated from the one table the preload also reads. */
export function addSettingOptions(program: Command): void {
  for (const spec of SPECS) {
    const name = flagName(spec);
    const values = spec.values ? ` (${spec.values.join(', ')})` : '';
    const option =
      spec.kind === 'boolean'
        ? new Option(`--${name}`, `${spec.description} [${spec.env}]`)
        : new Option(
            `--${name} <value>`,
            `${spec.description}${values}${spec.secret ? '; @<file> reads it from a file, out of sight of ps' : ''} [${spec.env}]`,
          );
    option.helpGroup(`${spec.group}:`);
    program.addOption(option);
  }
}

/** Turns the flags given into the variables they set, rejecting bad values (exit 2). */
export function flagsToEnv(opts: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of SPECS) {
    // commander names an option's value by the flag in camelCase: the file key.
    const value = opts[fileKey(spec)];
    if (value === undefined) continue;
    env[spec.env] = value === true ? 'true' : spec.secret ? secretValue(spec, String(value)) : String(value);
  }
  const problems: Problem[] = [];
  readSettings(env, (p) => problems.push(p));
  const first = problems[0];
  if (first) {
    const spec = SPECS.find((s) => s.env === first.source);
    const flag = spec ? `--${flagName(spec)}` : first.source;
    throw new UsageError(
      `${first.message.replace(`${first.source}=`, `${flag} `).replace(/ — .*$/, '')} (${flag})`,
      spec?.values ? `allowed values: ${spec.values.join(', ')}` : `see otel-run --help for ${flag}`,
    );
  }
  return env;
}

/** The longest secret file read: a header list, not a file pasted by mistake. */
const MAX_SECRET_FILE = 64 * 1024;

/**
 * A secret flag's value (`--exporter-otlp-headers`): a command line is visible to every user in `ps` for the
 * whole run, so `@<file>` reads the value from a file instead (a header name cannot start with `@`). The
 * environment variable is the other way that stays out of sight.
 */
function secretValue(spec: SettingSpec, value: string): string {
  if (!value.startsWith('@')) return value;
  const file = value.slice(1);
  const flag = `--${flagName(spec)}`;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_SECRET_FILE) throw new Error(`${size} bytes, more than ${MAX_SECRET_FILE}`);
    return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(
      `${flag} @${file}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      `@<file> names a file holding the value (key=value,...); or set ${spec.env} in the environment`,
    );
  }
}

/** `--view` makes the terminal view the exporter, or adds it to the ones --traces-exporter names. */
export function viewExporters(flag: unknown): string {
  const named =
    typeof flag === 'string' ? flag.split(',').filter((n) => n.trim() && n.trim() !== 'none') : [];
  return [...named, 'pretty'].join(',');
}

/**
 * Exporters --view turns off unless a flag, the environment or the config file sets them: --view is for seeing
 * traces with no backend, and metrics and logs would otherwise go to a collector that is not there, costing a
 * warning and the flush timeout at every exit.
 */
export const VIEW_OFF = ['OTEL_METRICS_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;
