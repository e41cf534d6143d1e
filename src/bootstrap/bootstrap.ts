// `otel-run bootstrap [--install] [--json]`: the Node counterpart of Python's `opentelemetry-bootstrap`. Reads
// the app's dependencies (package.json, and the versions installed), maps each library to the contrib
// instrumentation that covers it (register/discovery/catalog.ts, with its supported ranges), and prints the missing
// ones as a ready install command for the project's package manager, or runs it with --install.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import spawn from 'cross-spawn';
import { OWN_ROOT } from '../../register/contract';
import { CATALOG, type CatalogEntry } from '../../register/discovery/catalog';
import { resolutionFolders } from '../../register/discovery/discover';
import { type Line, lineFor, pinOf } from '../../register/discovery/lines';
import { isBuiltinTarget } from '../../register/discovery/manifest';
import { findPackageRoot } from '../../register/util/package-json';
import { UsageError } from '../common/flags';
import { parseSubcommand } from '../common/parse-args';
import { installedTree, lockfileTree } from './tree';

/**
 * Versions to install, from the generated catalog (register/discovery/lines.ts picks the line): on Node < 22.15
 * the 0.2xx line the catalog was generated from (what @opentelemetry/auto-instrumentations-node 0.81.2 depends
 * on, installed and tested here; exact, so what is installed is what otel-run was tested with); from Node 22.15
 * the 0.30x line the newest auto-instrumentations-node depends on (it requires Node >= 22.15).
 */
export function pinsFor(nodeVersion: string = process.versions.node): Readonly<Record<string, string>> {
  return Object.fromEntries(CATALOG.map((e) => [e.name, pinOf(e, nodeVersion)]));
}

export const PINS = pinsFor();

/**
 * Libraries users depend on whose instrumentation hooks another module they pull in: the AWS SDK v3 clients
 * (hooked through @smithy/* and @aws-sdk/middleware-stack), redis 4+ (through @redis/client), NestJS's
 * express adapter (express itself). Matched on the dependency name.
 */
const ALIASES: ReadonlyArray<{ match: (dep: string) => boolean; instrumentation: string }> = [
  { match: (d) => d.startsWith('@aws-sdk/'), instrumentation: 'aws-sdk' },
  { match: (d) => d.startsWith('@smithy/'), instrumentation: 'aws-sdk' },
  { match: (d) => d === '@nestjs/platform-express', instrumentation: 'express' },
];

/** Libraries that look covered and are not: said plainly rather than left out. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'aws-sdk':
    'aws-sdk v2 is not instrumented (instrumentation-aws-sdk covers the v3 clients, @aws-sdk/client-*)',
};

export type Status = 'missing' | 'outdated' | 'installed' | 'incompatible' | 'shipped' | 'unsupported';

export interface LibraryReport {
  library: string;
  /** The installed version (or the lockfile's), else the range package.json declares. */
  version: string | null;
  versionSource: 'installed' | 'lockfile' | 'declared';
  /** The app's direct dependency that brings the library (`express@5.2.1`), null for a direct dependency. */
  via: string | null;
  instrumentation: string | null;
  package: string | null;
  pin: string | null;
  /** The library versions the instrumentation supports. */
  supported: string | null;
  status: Status;
  /** The instrumentation's installed version, when it is. */
  installedVersion: string | null;
  reason: string;
}

export interface PackageManager {
  name: 'npm' | 'pnpm' | 'yarn' | 'bun';
  /** The lockfile it was detected from, or null (packageManager field, or the npm default). */
  lockfile: string | null;
}

export interface BootstrapReport {
  root: string;
  packageManager: PackageManager;
  /** Where the libraries were read: the installed tree, npm's lockfile, or package.json's dependencies alone. */
  tree: 'node_modules' | 'lockfile' | 'package.json';
  /** The instrumentation line installed: 0.2xx below Node 22.15, 0.30x from it. */
  line: Line & { nodeVersion: string };
  libraries: LibraryReport[];
  /** `package@version` for every missing instrumentation. */
  install: string[];
  /** The command that installs them, or null when nothing is missing. */
  command: string[] | null;
}

interface AppManifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  packageManager?: string;
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const LOCKFILES: ReadonlyArray<[string, PackageManager['name']]> = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['package-lock.json', 'npm'],
  ['npm-shrinkwrap.json', 'npm'],
  ['bun.lock', 'bun'],
  ['bun.lockb', 'bun'],
];

/** The lockfile nearest the app (a workspace keeps it at the repository root), else `packageManager`. */
export function detectPackageManager(root: string, manifest: AppManifest): PackageManager {
  let dir = root;
  for (;;) {
    for (const [file, name] of LOCKFILES) {
      if (fs.existsSync(path.join(dir, file))) return { name, lockfile: path.join(dir, file) };
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const declared = /^(npm|pnpm|yarn|bun)@/.exec(manifest.packageManager ?? '')?.[1];
  return { name: (declared as PackageManager['name'] | undefined) ?? 'npm', lockfile: null };
}

export function installCommand(pm: PackageManager, root: string, packages: string[]): string[] {
  switch (pm.name) {
    case 'pnpm':
      // At a workspace root pnpm refuses `add` without -w (--workspace-root).
      return fs.existsSync(path.join(root, 'pnpm-workspace.yaml'))
        ? ['pnpm', 'add', '-w', ...packages]
        : ['pnpm', 'add', ...packages];
    case 'yarn':
      return ['yarn', 'add', ...packages];
    case 'bun':
      return ['bun', 'add', ...packages];
    default:
      return ['npm', 'install', ...packages];
  }
}

function installedVersion(folders: string[], name: string): string | null {
  for (const folder of folders) {
    try {
      const pkg = readJson(path.join(folder, name, 'package.json')) as { version?: unknown };
      if (typeof pkg.version === 'string') return pkg.version;
    } catch {}
  }
  return null;
}

type Semver = typeof import('semver');

function fits(semver: Semver, version: string, declared: boolean, range: string): boolean | null {
  try {
    if (!declared) return semver.satisfies(version, range, { includePrerelease: true });
    // A declared range (not installed yet): compatible if some version it allows is supported.
    if (semver.validRange(version) === null) return null;
    return semver.intersects(version, range, { includePrerelease: true });
  } catch {
    return null;
  }
}

/** Below the pin's compatible line (`^0.71.0` is 0.71.x): an older release train. */
function older(semver: Semver, installed: string, pin: string): boolean {
  try {
    return semver.lt(installed, pin) && !semver.satisfies(installed, `^${pin.replace(/\.\d+$/, '.0')}`);
  } catch {
    return false;
  }
}

/** otel-run's own instrumentations (http, undici, …): nothing to install for them. */
function shippedNames(): Set<string> {
  const own = (readJson(path.join(OWN_ROOT, 'package.json')) as AppManifest).dependencies ?? {};
  return new Set(CATALOG.filter((e) => own[e.package] !== undefined).map((e) => e.name));
}

interface Found {
  library: string;
  version: string;
  versionSource: LibraryReport['versionSource'];
  via: string | null;
}

/**
 * The app's libraries: every package of its runtime tree (installed, else from npm's lockfile), and the
 * declared dependencies not in it (nothing installed and no lockfile otel-run reads: package.json alone).
 */
function findLibraries(
  root: string,
  manifest: AppManifest,
  lockfile: string | null,
): { found: Found[]; tree: BootstrapReport['tree'] } {
  const deps: Record<string, string> = { ...manifest.optionalDependencies, ...manifest.dependencies };
  const tree = installedTree(root, manifest) ?? lockfileTree(root, lockfile);
  const found: Found[] = (tree?.packages ?? []).map((p) => ({
    library: p.name,
    version: p.version,
    versionSource: tree?.source === 'lockfile' ? 'lockfile' : 'installed',
    via: p.via,
  }));
  const seen = new Set(found.map((f) => f.library));
  for (const [library, range] of Object.entries(deps)) {
    if (!seen.has(library)) found.push({ library, version: range, versionSource: 'declared', via: null });
  }
  // Direct dependencies first, by name; then the transitive ones, by name.
  found.sort((x, y) => Number(x.via !== null) - Number(y.via !== null) || x.library.localeCompare(y.library));
  return { found, tree: tree?.source ?? 'package.json' };
}

/** `router (via express 5.2.1)`: what the text report and doctor call a library. */
export function libraryLabel(l: Pick<LibraryReport, 'library' | 'via'>, version?: string | null): string {
  const name = version ? `${l.library}@${version}` : l.library;
  if (!l.via) return name;
  const at = l.via.lastIndexOf('@');
  return `${name} (via ${at > 0 ? `${l.via.slice(0, at)} ${l.via.slice(at + 1)}` : l.via})`;
}

export function analyse(cwd: string): BootstrapReport {
  const root = findPackageRoot(cwd);
  if (!root) {
    throw new UsageError(
      `no package.json in ${cwd} or above (otel-run bootstrap)`,
      'run it in your app’s folder, where its package.json is',
    );
  }
  const manifest = readJson(path.join(root, 'package.json')) as AppManifest;
  const semver = require('semver') as Semver;
  const folders = resolutionFolders(root);
  const shipped = shippedNames();
  const packageManager = detectPackageManager(root, manifest);
  const { found, tree } = findLibraries(root, manifest, packageManager.lockfile);
  const versions = new Map(
    found.filter((f) => f.versionSource !== 'declared').map((f) => [f.library, f.version]),
  );
  const versionOf = (name: string): string | null => versions.get(name) ?? installedVersion(folders, name);
  const byName = new Map(CATALOG.map((e) => [e.name, e]));
  const byTarget = new Map<string, CatalogEntry>();
  for (const e of CATALOG) {
    for (const t of Object.keys(e.targets)) if (!isBuiltinTarget(t)) byTarget.set(t, e);
  }
  const line = lineFor();
  const pins = pinsFor();

  // Each library an instrumentation covers, with whether its version is supported.
  const groups = new Map<
    string,
    { entry: CatalogEntry; libs: { f: Found; supported: string | null; ok: boolean | null }[] }
  >();
  const libraries: LibraryReport[] = [];
  for (const f of found) {
    const { library, version } = f;
    const direct = f.via === null;
    const installed = f.versionSource !== 'declared';
    if (direct && UNSUPPORTED[library]) {
      libraries.push({
        library,
        version,
        versionSource: f.versionSource,
        via: null,
        instrumentation: null,
        package: null,
        pin: null,
        supported: null,
        status: 'unsupported',
        installedVersion: null,
        reason: UNSUPPORTED[library] as string,
      });
      continue;
    }
    // Aliases name what users depend on directly (an AWS SDK v3 client); the tree has the modules hooked.
    const alias = direct ? ALIASES.find((a) => a.match(library)) : undefined;
    const entry = byTarget.get(library) ?? (alias ? byName.get(alias.instrumentation) : undefined);
    if (!entry) continue;
    let group = groups.get(entry.name);
    if (!group) {
      group = { entry, libs: [] };
      groups.set(entry.name, group);
    }
    // Several aws clients map to one instrumentation: counted once.
    if (alias && !entry.targets[library] && group.libs.some((l) => !l.f.via && !entry.targets[l.f.library]))
      continue;

    let supported = entry.targets[library] ?? null;
    let ok: boolean | null = supported ? fits(semver, version, !installed, supported) : null;
    if (!supported) {
      // Matched through an alias: check the modules the instrumentation really hooks, when installed.
      const hooked = Object.entries(entry.targets)
        .map(([module, range]) => ({ module, range, version: versionOf(module) }))
        .filter((t) => t.version !== null);
      supported = (
        hooked.length ? hooked : Object.entries(entry.targets).map(([module, range]) => ({ module, range }))
      )
        .map((t) => `${t.module} ${t.range}`)
        .join(', ');
      ok = hooked.length ? hooked.some((t) => fits(semver, t.version as string, false, t.range)) : true;
    }
    if (entry.name === 'redis' && ok === false && library === 'redis') {
      // redis 4+ is hooked through @redis/client, its own dependency.
      const client = versionOf('@redis/client');
      supported = entry.targets['@redis/client'] ?? supported;
      ok =
        client !== null
          ? fits(semver, client, false, supported ?? '*')
          : fits(semver, version, !installed, '>=4');
    }
    group.libs.push({ f, supported, ok });
  }

  for (const { entry, libs } of groups.values()) {
    // One row per direct library the instrumentation supports; a transitive one only when no direct one
    // brings it (pg-pool comes with pg: pg's row says it); the unsupported ones when none is supported.
    // The redis row stands for @redis/client, which it brings (checked above).
    const usable = libs.filter((l) => l.ok !== false);
    const pool = usable.length ? usable : libs;
    // A library the instrumentation hooks says more than the alias that brought it (express via
    // @nestjs/platform-express, not the adapter itself).
    const hooked = pool.filter((l) => entry.targets[l.f.library] !== undefined);
    const pick = hooked.length ? hooked : pool;
    const directRows = pick.filter((l) => l.f.via === null);
    const rows = directRows.length ? directRows : pick.slice(0, 1);
    for (const { f, supported, ok } of rows) {
      const report: LibraryReport = {
        library: f.library,
        version: f.version,
        versionSource: f.versionSource,
        via: f.via,
        instrumentation: entry.name,
        package: entry.package,
        pin: pins[entry.name] ?? null,
        supported,
        status: 'missing',
        installedVersion: installedVersion(folders, entry.package),
        reason: '',
      };
      const pin = report.pin?.replace(/^\^/, '') ?? null;
      if (shipped.has(entry.name)) {
        report.status = 'shipped';
        report.reason = 'comes with otel-run';
      } else if (ok === false) {
        report.status = 'incompatible';
        report.reason = `${f.library}@${f.version} is outside the supported ${supported}${line.name === '0.2xx' ? ` (the ${line.name} line that runs on Node ${process.versions.node}; the 0.30x line needs Node >= 22.15)` : ''}`;
      } else if (report.installedVersion && pin && older(semver, report.installedVersion, pin)) {
        // An older 0.x line is another API: installing the pin upgrades it, as opentelemetry-bootstrap does.
        report.status = 'outdated';
        report.reason = `installed ${report.installedVersion}, older than the ${report.pin} otel-run is tested with`;
      } else if (report.installedVersion) {
        report.status = 'installed';
        report.reason =
          report.pin &&
          report.installedVersion !== pin &&
          !semver.satisfies(report.installedVersion, report.pin)
            ? `installed ${report.installedVersion} (otel-run is tested with ${report.pin})`
            : `installed ${report.installedVersion}`;
      } else {
        report.reason =
          ok === null
            ? `cannot check ${f.version} against ${supported}`
            : f.versionSource === 'declared'
              ? 'library version from package.json (not installed yet)'
              : f.versionSource === 'lockfile'
                ? 'library version from the lockfile (not installed yet)'
                : '';
      }
      libraries.push(report);
    }
  }
  libraries.sort(
    (x, y) => Number(x.via !== null) - Number(y.via !== null) || x.library.localeCompare(y.library),
  );

  const install = [
    ...new Set(
      libraries
        .filter((l) => (l.status === 'missing' || l.status === 'outdated') && l.package)
        .map((l) => `${l.package}@${l.pin}`),
    ),
  ].sort();
  return {
    root,
    packageManager,
    tree,
    line: { ...line, nodeVersion: process.versions.node },
    libraries,
    install,
    command: install.length ? installCommand(packageManager, root, install) : null,
  };
}

function text(r: BootstrapReport): string {
  const pm = r.packageManager;
  const from = pm.lockfile ? path.relative(r.root, pm.lockfile) || pm.lockfile : 'no lockfile: default';
  const read = {
    node_modules: 'the installed tree',
    lockfile: 'the lockfile',
    'package.json': 'package.json',
  }[r.tree];
  const lines = [
    `otel-run bootstrap: ${r.root} (${pm.name}, ${from})`,
    `  libraries from ${read}; instrumentations of the ${r.line.name} line (Node ${r.line.nodeVersion})`,
    '',
  ];
  if (r.libraries.length === 0) {
    lines.push('  No dependency of this app has a contrib instrumentation.');
  } else {
    const rows = r.libraries.map((l) => [
      libraryLabel(l, l.version),
      l.package ? `${l.package}${l.status === 'missing' || l.status === 'outdated' ? `@${l.pin}` : ''}` : '-',
      l.status,
      l.reason,
    ]);
    const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] as string).length)));
    for (const row of rows) {
      lines.push(
        `  ${row
          .map((c, i) => (i < 3 ? c.padEnd(widths[i] as number) : c))
          .join('  ')
          .trimEnd()}`,
      );
    }
  }
  lines.push(
    '  http, https and fetch (undici) are traced by the instrumentations that come with otel-run;',
    '  net and dns come with it too, off unless named (--enable net,dns).',
    '',
  );
  if (r.command) {
    lines.push(
      `To install the ${r.install.length} missing or outdated instrumentation${r.install.length === 1 ? '' : 's'}:`,
    );
    lines.push(`  ${r.command.join(' ')}`);
    lines.push('or run: otel-run bootstrap --install');
  } else {
    lines.push('Nothing to install.');
  }
  return `${lines.join('\n')}\n`;
}

function runInstall(r: BootstrapReport, json: boolean): Promise<number> {
  const [cmd, ...args] = r.command as [string, ...string[]];
  process.stderr.write(`otel-run: running ${r.command?.join(' ')} (in ${r.root})\n`);
  return new Promise((resolve) => {
    // With --json, stdout carries the report alone: the package manager's output goes to stderr.
    const child = spawn(cmd, args, { cwd: r.root, stdio: ['inherit', json ? 2 : 'inherit', 'inherit'] });
    child.on('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(
        `otel-run: cannot run ${cmd}: ${err.code === 'ENOENT' ? 'command not found' : err.message}\n  hint: install ${cmd}, or run the command above with the package manager you use\n`,
      );
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      if (code === 0) {
        process.stderr.write(
          'otel-run: installed — see your traces with: otel-run --view node <entry file>\n',
        );
        resolve(0);
      } else {
        process.stderr.write(
          `otel-run: ${cmd} failed (${signal ? `signal ${signal}` : `exit code ${code}`}) — nothing else was changed\n`,
        );
        resolve(1);
      }
    });
  });
}

export async function run(argv: string[]): Promise<number> {
  const program = new Command('otel-run bootstrap')
    .description(
      'Find the instrumentation packages this app’s libraries need, print the install command, or run it.',
    )
    .option(
      '--install',
      'run the install command with the package manager of the project (from its lockfile)',
    )
    .option('--json', 'print the report as JSON')
    .exitOverride();
  const ended = parseSubcommand(program, argv);
  if (ended !== undefined) return ended;
  const opts = program.opts<{ install?: boolean; json?: boolean }>();
  // Discovery reads node_modules folders: under PnP its answer would be wrong, not just empty.
  const refusal = (require('../../register/util/pnp') as typeof import('../../register/util/pnp')).pnpRefusal(
    process.cwd(),
  );
  if (refusal) {
    process.stderr.write(refusal);
    return 1;
  }
  const report = analyse(process.cwd());
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : text(report));
  if (opts.install && report.command) return runInstall(report, !!opts.json);
  return 0;
}
