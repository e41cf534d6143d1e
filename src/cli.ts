// otel-run [options] <command> [args...]: resolves the settings (flags > environment > config file >
// defaults), puts them and the preload into the child's environment, runs the command, and ends as it ended.
// Subcommands (list, doctor, env, bootstrap) match only as the first argument: `otel-run -- env` runs `env`.
import { Command, Option } from 'commander';
import { type Problem, readSettings, type SettingSpec, SPECS } from '../register/settings';
import { REGISTER_ENTRY, VERSION } from '../register/shared';
import { ConfigError, resolveChildEnv } from './config';
import { withPreload } from './node-options';
import { CommandError, mirrorExit, runChild } from './spawn';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function flagName(spec: SettingSpec): string {
  return spec.flag ?? kebab(spec.key);
}

const EXAMPLES = `
Examples:
  otel-run node app.js                          trace a Node app (OTLP to localhost:4318 by default)
  otel-run --traces-exporter console node app.js
                                                print spans on stderr instead
  otel-run --service-name api npm start         npm itself is skipped; the app it starts is traced
  otel-run -- npx tsx src/main.ts               everything after -- is the command, untouched
  otel-run --view node app.js                   each trace as a tree on stderr, no backend needed
  otel-run list                                 which instrumentors will run here, and why not
  otel-run bootstrap --install                  install the instrumentations your dependencies need
  otel-run doctor                               check the setup (config, instrumentors, endpoint)
  otel-run env --format k8s                     the same environment without the CLI
  NODE_OPTIONS="--require $(pwd)/node_modules/otel-run/register/index.cjs" node app.js
                                                the preload alone (containers)
`;

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

function buildProgram(): Command {
  const program = new Command('otel-run')
    .usage('[options] <command> [args...]')
    .description('Run any command with OpenTelemetry auto-instrumentation in every Node process it starts.')
    .version(VERSION, '-v, --version')
    .helpOption('-h, --help', 'show this help')
    .option('--verbose', 'one startup line per process, and stack traces on errors [OTEL_LOG_LEVEL=info]')
    .option('--view', 'print each trace as a tree on stderr [OTEL_TRACES_EXPORTER=pretty]')
    .argument('[command...]', 'the command to run, with its arguments')
    .passThroughOptions()
    .allowUnknownOption(false)
    // Usage errors in the house format: `otel-run: <problem>`, then a hint (#5).
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'otel-run: ')) })
    .showHelpAfterError('  hint: otel-run --help lists every option')
    .addHelpText('after', EXAMPLES)
    .exitOverride();
  addSettingOptions(program);
  return program;
}

/** Turns the flags given into the variables they set, rejecting bad values (exit 2). */
export function flagsToEnv(opts: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of SPECS) {
    const value =
      opts[spec.flag ? spec.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) : spec.key];
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

/** Exporters --view turns off unless a flag, the environment or the config file sets them. */
export const VIEW_OFF = ['OTEL_METRICS_EXPORTER', 'OTEL_LOGS_EXPORTER'] as const;

/**
 * `--view` is for seeing traces with no backend: metrics and logs would otherwise go to a collector that is
 * not there, costing a warning and the flush timeout at every exit.
 */
export function applyView(env: Record<string, string | undefined>, tracesFlag: unknown): void {
  env.OTEL_TRACES_EXPORTER = viewExporters(tracesFlag);
  for (const name of VIEW_OFF) env[name] ??= 'none';
}

function fail(err: unknown, verbose: boolean): number {
  if (err instanceof ConfigError) {
    process.stderr.write(err.report());
    return 2;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`otel-run: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    return 2;
  }
  if (err instanceof CommandError) {
    process.stderr.write(`otel-run: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`otel-run: ${e?.message ?? String(err)}\n`);
  if (verbose && e?.stack) process.stderr.write(`${e.stack}\n`);
  else
    process.stderr.write(
      '  hint: this looks like a bug in otel-run; rerun with --verbose and please report it\n',
    );
  return 1;
}

async function runMode(argv: string[]): Promise<number | undefined> {
  const program = buildProgram();
  let opts: Record<string, unknown>;
  let command: string[];
  try {
    program.parse(argv, { from: 'user' });
    opts = program.opts();
    command = program.args;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    return 2;
  }
  const verbose = !!opts.verbose;
  try {
    if (command.length === 0) {
      process.stderr.write(`${program.helpInformation()}`);
      throw new UsageError('no command given', 'otel-run node app.js');
    }
    const flags = flagsToEnv(opts);
    // --verbose is a flag: it wins over a config file's logLevel, not over --log-level or OTEL_LOG_LEVEL.
    if (verbose && flags.OTEL_LOG_LEVEL === undefined && process.env.OTEL_LOG_LEVEL === undefined)
      flags.OTEL_LOG_LEVEL = 'info';
    // flag > environment > config file > default (src/config.ts); the child gets it all as its environment.
    const env = await resolveChildEnv(process.env, flags, process.cwd());
    if (opts.view) applyView(env, opts.tracesExporter);
    env.NODE_OPTIONS = withPreload(env.NODE_OPTIONS, REGISTER_ENTRY);
    const [cmd, ...args] = command as [string, ...string[]];
    const result = await runChild(cmd, args, env);
    mirrorExit(result);
    return undefined;
  } catch (err) {
    return fail(err, verbose);
  }
}

const SUBCOMMANDS: Record<string, () => { run(argv: string[]): Promise<number> }> = {
  list: () => require('./list') as { run(argv: string[]): Promise<number> },
  doctor: () => require('./doctor') as { run(argv: string[]): Promise<number> },
  env: () => require('./env-command') as { run(argv: string[]): Promise<number> },
  bootstrap: () => require('./bootstrap') as { run(argv: string[]): Promise<number> },
};

export async function main(argv: string[]): Promise<void> {
  const first = argv[0];
  const sub = first !== undefined ? SUBCOMMANDS[first] : undefined;
  let code: number | undefined;
  try {
    code = sub ? await sub().run(argv.slice(1)) : await runMode(argv);
  } catch (err) {
    code = fail(err, argv.includes('--verbose'));
  }
  if (code !== undefined) process.exitCode = code;
}
