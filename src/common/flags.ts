// The flags every command shares: one per row of the settings table, turned into the variables they set.
// Used by the run command and by the subcommands that resolve settings (env, doctor).
import { type Command, Option } from 'commander';
import { fileKey, flagName } from '../../register/config/file-keys';
import { type Problem, readSettings, SPECS } from '../../register/settings/table';

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
        : new Option(`--${name} <value>`, `${spec.description}${values} [${spec.env}]`);
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
    env[spec.env] = value === true ? 'true' : String(value);
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
