// `otel-run env [--format shell|dockerfile|k8s]`: the environment `otel-run <command>` would give the app,
// for places where the CLI does not run (a container, a Kubernetes manifest, a process manager): NODE_OPTIONS
// with the preload's absolute path, plus every OTEL_* setting resolved to something other than its default.
// Secrets are printed as references (`$OTEL_EXPORTER_OTLP_HEADERS`, a Kubernetes secretKeyRef), never values.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { ENV_INSTRUMENTATION_CONFIG, ENV_RESOLVED, REGISTER_ENTRY, VERSION } from '../../register/contract';
import { SPECS } from '../../register/settings/table';
import { hasUrlCredentials } from '../../register/util/redact';
import { instrumentationsVar, nearMissReport, type Resolved, resolveConfig } from '../common/config';
import { addSettingOptions, flagsToEnv, UsageError } from '../common/flags';
import { parseSubcommand } from '../common/parse-args';
import { differsFromDefault, displayValue } from '../common/sources';
import { withPreload } from '../run/node-options';

export const FORMATS = ['shell', 'dockerfile', 'k8s'] as const;
export type Format = (typeof FORMATS)[number];

export interface EnvEntry {
  name: string;
  /** Absent for a secret: only a reference to the variable is printed. */
  value?: string;
  secret?: boolean;
}

/** The variables, NODE_OPTIONS first, in the settings table's order. */
export function envEntries(resolved: Resolved, env: NodeJS.ProcessEnv, registerPath: string): EnvEntry[] {
  const out: EnvEntry[] = [{ name: 'NODE_OPTIONS', value: withPreload(undefined, registerPath) }];
  for (const spec of SPECS) {
    const raw = resolved.vars[spec.env];
    if (raw === undefined) continue;
    // The file's settings are printed as variables; pointing at the file (from another machine) is not.
    if (spec.key === 'config' && resolved.configFile) continue;
    if (!differsFromDefault(spec, raw)) continue;
    // An endpoint with credentials in it is a secret too.
    out.push(
      spec.secret || hasUrlCredentials(raw)
        ? { name: spec.env, secret: true }
        : { name: spec.env, value: raw },
    );
  }
  // The file's per-instrumentor options under the variable's, merged as a run merges them.
  const instrumentations = instrumentationsVar(resolved, env) ?? env[ENV_INSTRUMENTATION_CONFIG];
  if (instrumentations) out.push({ name: ENV_INSTRUMENTATION_CONFIG, value: instrumentations });
  // Everything the file says is in the variables above: the preload need not look for it again.
  if (resolved.configFile) out.push({ name: ENV_RESOLVED, value: '1' });
  return out;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function dockerQuote(value: string): string {
  // Dockerfile ENV expands $VAR and treats backslash as an escape inside double quotes.
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

export function render(entries: EnvEntry[], format: Format): string {
  const secrets = entries.filter((e) => e.secret);
  const plain = entries.filter((e) => !e.secret);
  const lines: string[] = [];
  if (format === 'shell') {
    lines.push(`# otel-run ${VERSION}: the environment \`otel-run <command>\` sets. eval "$(otel-run env)"`);
    for (const e of plain) lines.push(`export ${e.name}=${shellQuote(e.value ?? '')}`);
    for (const e of secrets)
      lines.push(
        `export ${e.name}="$${e.name}"  # a secret: referenced, never printed; set it in this shell`,
      );
  } else if (format === 'dockerfile') {
    lines.push(`# otel-run ${VERSION}: the environment \`otel-run <command>\` sets, for a Dockerfile`);
    lines.push(
      plain
        .map((e, i) => `${i === 0 ? 'ENV ' : '    '}${e.name}=${dockerQuote(e.value ?? '')}`)
        .join(' \\\n'),
    );
    for (const e of secrets)
      lines.push(
        `# ${e.name} is a secret: pass it when the container starts (docker run -e ${e.name}), never in the image`,
      );
  } else {
    lines.push(`# otel-run ${VERSION}: spec.containers[].env for a Kubernetes manifest`);
    lines.push('env:');
    for (const e of plain) {
      lines.push(`  - name: ${e.name}`, `    value: ${JSON.stringify(e.value ?? '')}`);
    }
    for (const e of secrets) {
      lines.push(
        `  - name: ${e.name}  # kubectl create secret generic otel-run --from-literal=${e.name}="$${e.name}"`,
        '    valueFrom:',
        '      secretKeyRef:',
        '        name: otel-run',
        `        key: ${e.name}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function isAbsoluteAnywhere(p: string): boolean {
  return path.posix.isAbsolute(p) || path.win32.isAbsolute(p);
}

export async function run(argv: string[]): Promise<number> {
  const program = new Command('otel-run env')
    .usage('[--format shell|dockerfile|k8s] [options]')
    .description(
      'Print the environment `otel-run <command>` gives the app: NODE_OPTIONS with the preload, and the OTEL_* settings that differ from the defaults.',
    )
    .addOption(new Option('--format <format>', 'output form').choices(FORMATS).default('shell'))
    .option(
      '--register <path>',
      `absolute path of the preload where the app runs (default: ${REGISTER_ENTRY}); in an image: /app/node_modules/otel-run/register/index.cjs`,
    )
    .option('--verbose', 'add OTEL_LOG_LEVEL=info (a startup line per process)')
    .option('--view', 'print traces as trees on stderr [OTEL_TRACES_EXPORTER=pretty]')
    .exitOverride();
  addSettingOptions(program);
  const ended = parseSubcommand(program, argv);
  if (ended !== undefined) return ended;
  const opts = program.opts();
  const registerPath = typeof opts.register === 'string' ? opts.register : REGISTER_ENTRY;
  if (!isAbsoluteAnywhere(registerPath)) {
    throw new UsageError(
      `--register ${registerPath} is not an absolute path (--register)`,
      'Node resolves a relative --require from each process’s own working directory; give the full path, e.g. /app/node_modules/otel-run/register/index.cjs',
    );
  }
  // The same pipeline as a run, --verbose and --view included, so the output reproduces the run.
  const resolved = await resolveConfig({
    flags: flagsToEnv(opts),
    env: process.env,
    cwd: process.cwd(),
    verbose: !!opts.verbose,
    view: !!opts.view,
  });
  process.stderr.write(nearMissReport(resolved));
  const entries = envEntries(resolved, process.env, registerPath);
  process.stdout.write(render(entries, opts.format as Format));
  const otelFile = entries.find((e) => e.name === 'OTEL_CONFIG_FILE')?.value;
  if (otelFile) {
    const { otelConfigComments } = require('../common/otel-config') as typeof import('../common/otel-config');
    process.stdout.write(
      `${otelConfigComments({ ...process.env, OTEL_CONFIG_FILE: otelFile }, process.cwd(), displayValue).join('\n')}\n`,
    );
  }
  return 0;
}
