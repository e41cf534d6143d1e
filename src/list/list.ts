// `otel-run list`: every instrumentor discovery finds from here, and whether it will run, with the reason.
// The same discovery and plan as the preload, so the answer is what a run would do.
import { Command } from 'commander';
import { parseInstrumentationsEnv } from '../../register/config/resolve';
import { ENV_INSTRUMENTATION_CONFIG, OWN_ROOT } from '../../register/contract';
import { discover } from '../../register/discovery/discover';
import { type Planned, plan } from '../../register/discovery/plan';
import type { ListEntry } from '../../register/discovery/protocol';
import { loadModule, pickExport } from '../../register/hooks/activate';
import { metricsOn } from '../../register/settings/endpoints';
import { readSettings } from '../../register/settings/table';
import { parseSubcommand } from '../common/parse-args';

export type { ListEntry };

/** Loads each enabled instrumentor's module (without enabling it) so a broken one shows as `failed`. */
function checkLoads(planned: Planned[]): void {
  for (const p of planned) {
    if (p.status !== 'enabled') continue;
    try {
      const value = pickExport(p, loadModule(p));
      if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
        throw new Error(`the export is a ${typeof value}, not an instrumentor`);
      }
    } catch (err) {
      p.status = 'failed';
      p.reason = `cannot load: ${(err as Error).message.split('\n')[0]}`;
    }
  }
}

export function listInstrumentors(cwd: string, env: NodeJS.ProcessEnv): ListEntry[] {
  // With OTEL_CONFIG_FILE, the file's instrumentation section decides too (src/common/otel-config.ts).
  const settings = env.OTEL_CONFIG_FILE?.trim()
    ? (require('../common/otel-config') as typeof import('../common/otel-config')).readOtelConfigView(
        env,
        cwd,
      ).settings
    : readSettings(env);
  const discovery = discover({ cwd, nodePath: env.NODE_PATH, ownRoot: OWN_ROOT });
  // Names with options in the configuration (the CLI hands a config file's down in this variable).
  const configured = Object.keys(parseInstrumentationsEnv(env[ENV_INSTRUMENTATION_CONFIG], () => {}) ?? {});
  const planned = plan(discovery, { settings, env, metricsEnabled: metricsOn(settings), configured });
  checkLoads(planned);
  return planned.map((p) => ({
    name: p.name,
    package: p.candidate.package,
    version: p.candidate.version,
    source: p.candidate.manifest.source,
    dir: p.candidate.dir,
    targets: p.targets.length
      ? p.targets.map(({ module, range, installed }) => ({ module, range, installed }))
      : Object.entries(p.candidate.manifest.targets).map(([module, range]) => ({
          module,
          range,
          installed: null,
        })),
    status: p.status,
    reason: p.reason,
  }));
}

function table(entries: ListEntry[]): string {
  const order: Record<string, number> = {
    enabled: 0,
    failed: 1,
    invalid: 2,
    'version-mismatch': 3,
    duplicate: 4,
    disabled: 5,
    'disabled-by-default': 6,
    'target-not-installed': 7,
    'not-installed': 8,
  };
  const rows = [...entries]
    .sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || a.name.localeCompare(b.name))
    .map((e) => [
      e.name,
      e.status,
      e.status === 'not-installed' ? e.package || '-' : `${e.package}@${e.version}`,
      e.targets.map((t) => `${t.module}${t.installed ? `@${t.installed}` : ' (missing)'}`).join(', ') || '-',
      e.reason,
    ]);
  const head = ['NAME', 'STATUS', 'PACKAGE', 'TARGETS', 'REASON'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const enabled = entries.filter((e) => e.status === 'enabled').length;
  return `${[line(head), ...rows.map(line)].join('\n')}\n\n${enabled} of ${entries.length} instrumentors will run here.\n`;
}

export async function run(argv: string[]): Promise<number> {
  const program = new Command('otel-run list')
    .description('List the instrumentors otel-run finds from this folder and whether each will run.')
    .option('--json', 'print a JSON array (documented in docs/instrumentor-protocol.md)')
    .option('--enable <names>', 'as OTEL_NODE_ENABLED_INSTRUMENTATIONS')
    .option('--disable <names>', 'as OTEL_NODE_DISABLED_INSTRUMENTATIONS')
    .exitOverride();
  const ended = parseSubcommand(program, argv);
  if (ended !== undefined) return ended;
  const opts = program.opts<{ json?: boolean; enable?: string; disable?: string }>();
  // Discovery reads node_modules folders: under PnP its answer would be wrong, not just empty.
  const refusal = (require('../../register/util/pnp') as typeof import('../../register/util/pnp')).pnpRefusal(
    process.cwd(),
  );
  if (refusal) {
    process.stderr.write(refusal);
    return 1;
  }
  const flags: Record<string, string> = {};
  if (opts.enable !== undefined) flags.OTEL_NODE_ENABLED_INSTRUMENTATIONS = opts.enable;
  if (opts.disable !== undefined) flags.OTEL_NODE_DISABLED_INSTRUMENTATIONS = opts.disable;
  // The same pipeline as a run (flags > environment > config file), so `list` answers what a run would do.
  const { childEnv, nearMissReport, resolveConfig } =
    require('../common/config') as typeof import('../common/config');
  const resolved = await resolveConfig({ flags, env: process.env, cwd: process.cwd() });
  process.stderr.write(nearMissReport(resolved));
  const env = childEnv(resolved, process.env);
  const entries = listInstrumentors(process.cwd(), env);
  process.stdout.write(opts.json ? `${JSON.stringify(entries, null, 2)}\n` : table(entries));
  return 0;
}
