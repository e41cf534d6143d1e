// otel-run [options] <command> [args...]: resolves the settings (flags > environment > config file >
// defaults), puts them and the preload into the child's environment, runs the command, and ends as it ended.
// Subcommands (list, doctor, env, bootstrap) match only as the first argument: `otel-run -- env` runs `env`.
import type { Command } from 'commander';
import { OWN_ROOT, REGISTER_ENTRY, VERSION } from '../register/contract';
import { ConfigError, childEnv, nearMissReport, resolveConfig } from './common/config';
import { addSettingOptions, flagsToEnv, UsageError } from './common/flags';
import { execCommand } from './run/exec';
import { envFileNodeOptions, withPermissionForPreload, withPreload } from './run/node-options';
import { CommandError, mirrorExit, runChild } from './run/spawn';

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

function buildProgram(): Command {
  // Loaded only when there are options to parse: `otel-run node app.js` hands over sooner without it.
  const { Command } = require('commander') as typeof import('commander');
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
    // Usage errors in the house format: `otel-run: <problem>`, then a hint.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'otel-run: ')) })
    .showHelpAfterError('  hint: otel-run --help lists every option')
    .addHelpText('after', EXAMPLES)
    .exitOverride();
  addSettingOptions(program);
  return program;
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

/**
 * Options and command as commander reads them. With no option before the command (`otel-run node app.js`,
 * the usual case) there is nothing to parse: every argument belongs to the command (passThroughOptions).
 */
function parseRun(
  argv: string[],
): { opts: Record<string, unknown>; command: string[]; program?: Command } | number {
  const first = argv[0];
  if (first !== undefined && first !== '' && !first.startsWith('-')) return { opts: {}, command: argv };
  const program = buildProgram();
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    return 2;
  }
  return { opts: program.opts(), command: program.args, program };
}

async function runMode(argv: string[]): Promise<number | undefined> {
  const parsed = parseRun(argv);
  if (typeof parsed === 'number') return parsed;
  const { opts, command, program } = parsed;
  const verbose = !!opts.verbose;
  try {
    if (command.length === 0) {
      if (program) process.stderr.write(`${program.helpInformation()}`);
      throw new UsageError('no command given', 'otel-run node app.js');
    }
    // flag > environment > --verbose > config file > --view > default (src/common/config.ts), as list, env
    // and doctor resolve them; the child gets it all as its environment.
    const resolved = await resolveConfig({
      flags: flagsToEnv(opts),
      env: process.env,
      cwd: process.cwd(),
      verbose,
      view: !!opts.view,
    });
    // Only when there is something to say: touching process.stderr makes a pipe non-blocking (libuv), which
    // rules out the execve hand-over (src/run/exec.ts).
    const nearMisses = nearMissReport(resolved);
    if (nearMisses) process.stderr.write(nearMisses);
    const env = childEnv(resolved, process.env);
    const [cmd, ...given] = command as [string, ...string[]];
    // NODE_OPTIONS of `node --env-file=…`, which Node would read only from an environment without one.
    const base = env.NODE_OPTIONS ?? envFileNodeOptions(cmd, given, process.cwd());
    const { args, nodeOptions } = withPermissionForPreload(
      cmd,
      given,
      withPreload(base, REGISTER_ENTRY),
      OWN_ROOT,
    );
    env.NODE_OPTIONS = nodeOptions;
    // Where execve can be trusted this does not return: the command takes over this process.
    if (execCommand(cmd, args, env)) return undefined;
    const result = await runChild(cmd, args, env);
    mirrorExit(result);
    return undefined;
  } catch (err) {
    return fail(err, verbose);
  }
}

const SUBCOMMANDS: Record<string, () => { run(argv: string[]): Promise<number> }> = {
  list: () => require('./list/list') as { run(argv: string[]): Promise<number> },
  doctor: () => require('./doctor/doctor') as { run(argv: string[]): Promise<number> },
  env: () => require('./env/env') as { run(argv: string[]): Promise<number> },
  bootstrap: () => require('./bootstrap/bootstrap') as { run(argv: string[]): Promise<number> },
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
