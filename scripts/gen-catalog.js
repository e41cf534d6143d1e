// Writes register/discovery/catalog.ts from the instrumentation packages installed here: the ones
// @opentelemetry/auto-instrumentations-node (a devDependency) depends on. Each is loaded, built with
// `enabled: false` (so it patches nothing) and asked for its own module definitions: the names it hooks and
// the `supportedVersions` of each. What code cannot say (default-off choices, metrics-only rows, undici's
// diagnostics channels) is in OVERRIDES below, with the reason.
//
//   npm run gen:catalog                  regenerate from node_modules (after upgrading the devDependency)
//   npm run gen:catalog -- --refresh-next  also ask the registry which versions the newest
//                                          auto-instrumentations-node depends on (the Node >= 22.15 line)
//
// test/catalog.test.ts compares the committed catalog with buildCatalog(): it only checks, never writes.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.join(__dirname, '..');
const AUTO = '@opentelemetry/auto-instrumentations-node';
const PREFIX = '@opentelemetry/instrumentation-';
const OUT = path.join(REPO, 'register', 'discovery', 'catalog.ts');
/** What the newest auto-instrumentations-node (the 3.x core / 0.30x line, Node >= 22.15) depends on. */
const NEXT_FILE = path.join(__dirname, 'catalog-next-line.json');

/** What the module definitions cannot tell; each with the reason, copied into the catalog as a comment. */
const OVERRIDES = {
  'aws-lambda': {
    comment:
      "Hooks the user's handler file resolved from LAMBDA_TASK_ROOT + _HANDLER; hooks nothing outside Lambda.",
    always: true,
  },
  'aws-sdk': {
    comment: 'AWS SDK v3 only, via its transitive middleware/client packages, never `aws-sdk` (v2) itself.',
  },
  dns: {
    comment:
      'Shipped with otel-run; off by default (upstream enables it): a span per lookup, and each request already has its http or database span.',
    defaultOff: true,
  },
  fs: { comment: 'Upstream default-off.', defaultOff: true },
  'host-metrics': {
    comment: 'Polls OS/process stats (systeminformation); patches no module. Upstream default-off.',
    always: true,
    defaultOff: true,
    signal: 'metrics',
  },
  net: {
    comment:
      'Shipped with otel-run; off by default (upstream enables it): a span per socket, and each request already has its http or database span.',
    defaultOff: true,
  },
  redis: {
    comment:
      'redis@2-3 directly; redis@4+ through its @redis/client (or legacy @node-redis/client) dependency.',
  },
  'runtime-node': {
    comment: 'Reads perf_hooks / v8 / process stats (event loop, GC, heap); patches no module.',
    always: true,
    signal: 'metrics',
  },
  undici: {
    comment:
      "No require hook: it listens to diagnostics channels; range from its README. Node's global fetch (bundled undici) publishes these too, so it is useful even when the `undici` package is not installed.",
    targets: { undici: '>=5.12.0' },
    channels: [
      'undici:request:create',
      'undici:client:sendHeaders',
      'undici:request:headers',
      'undici:request:trailers',
      'undici:request:error',
    ],
  },
};

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function packageDir(name) {
  return path.join(REPO, 'node_modules', name);
}

/** The one exported class whose instances have getModuleDefinitions (every InstrumentationBase). */
function instrumentationClass(pkg, mod) {
  const found = Object.keys(mod).filter(
    (k) => /Instrumentation$/.test(k) && typeof mod[k] === 'function' && mod[k].prototype,
  );
  if (found.length !== 1)
    throw new Error(`${pkg} exports ${found.length} instrumentation classes (${found})`);
  return found[0];
}

/** Module name (builtins without `node:`) -> every supportedVersions of its definitions, joined with ||. */
function targetsOf(instance) {
  const targets = {};
  const defs = typeof instance.getModuleDefinitions === 'function' ? instance.getModuleDefinitions() : [];
  for (const def of defs) {
    const name = def.name.startsWith('node:') ? def.name.slice(5) : def.name;
    const ranges = def.supportedVersions ?? ['*'];
    const all = [...(targets[name] ? [targets[name]] : []), ...ranges];
    targets[name] = [...new Set(all)].join(' || ');
  }
  return targets;
}

function readNextLine() {
  try {
    return readJson(NEXT_FILE);
  } catch {
    return { version: null, dependencies: {} };
  }
}

/** The catalog rows, from what is installed: what catalog.ts must hold. */
function buildCatalog() {
  const auto = readJson(path.join(packageDir(AUTO), 'package.json'));
  const next = readNextLine();
  const names = Object.keys(auto.dependencies ?? {})
    .filter((d) => d.startsWith(PREFIX))
    .sort();
  const rows = [];
  for (const pkg of names) {
    const dir = packageDir(pkg);
    const version = readJson(path.join(dir, 'package.json')).version;
    const mod = require(dir);
    const exported = instrumentationClass(pkg, mod);
    const instance = new mod[exported]({ enabled: false });
    const name = pkg.slice(PREFIX.length);
    const o = OVERRIDES[name] ?? {};
    const row = { name, package: pkg, export: exported, version };
    if (next.dependencies[pkg]) row.next = next.dependencies[pkg];
    row.targets = o.targets ?? targetsOf(instance);
    if (Object.keys(row.targets).length === 0 && !o.always)
      throw new Error(`${pkg} hooks no module: say why in OVERRIDES (always, or targets)`);
    for (const key of ['channels', 'always', 'defaultOff', 'signal'])
      if (o[key] !== undefined) row[key] = o[key];
    rows.push(row);
  }
  return { rows, auto: auto.version, next: next.version };
}

function q(s) {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function key(k) {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? k : q(k);
}

function render({ rows, auto, next }) {
  const out = [];
  out.push(
    `// Generated by scripts/gen-catalog.js (npm run gen:catalog) from the instrumentations of ${AUTO} ${auto}`,
    '// as installed: do not edit by hand. test/catalog.test.ts fails when this file and the installed packages differ.',
    '',
    '/** One row per contrib instrumentation: what it hooks, so otel-run can check the target is installed before loading it. */',
    'export interface CatalogEntry {',
    '  /** Short name as used in OTEL_NODE_ENABLED_INSTRUMENTATIONS / OTEL_NODE_DISABLED_INSTRUMENTATIONS (package name minus `@opentelemetry/instrumentation-`). */',
    '  readonly name: string;',
    '  /** npm package providing the instrumentation. */',
    '  readonly package: string;',
    '  /** Named export of the instrumentation class. */',
    '  readonly export: string;',
    '  /**',
    '   * The version the row was generated from (the 2.x SDK / 0.2xx line, Node >= 20.6). The ranges below are that',
    "   * version's: another version of the package is trusted to check its own (its require hook does).",
    '   */',
    '  readonly version: string;',
    `  /** The range ${AUTO} ${next ?? '(newest)'} depends on: the 3.x core / 0.30x line, Node >= 22.15. */`,
    '  readonly next?: string;',
    '  /** Module name hooked (bare builtin name for Node builtins) -> supported semver range. */',
    '  readonly targets: Readonly<Record<string, string>>;',
    '  /** diagnostics_channel names the instrumentation subscribes to instead of (or besides) require hooks. */',
    '  readonly channels?: readonly string[];',
    '  /** No module to wait for: load whenever enabled. */',
    '  readonly always?: boolean;',
    '  /** Not loaded unless explicitly listed in OTEL_NODE_ENABLED_INSTRUMENTATIONS. */',
    '  readonly defaultOff?: boolean;',
    '  /** Set when the instrumentation only records metrics. */',
    "  readonly signal?: 'metrics';",
    '}',
    '',
    '/** The Node version from which bootstrap installs the `next` line. */',
    "export const NEXT_LINE_NODE = '22.15.0';",
    '',
    'export const CATALOG: readonly CatalogEntry[] = [',
  );
  for (const r of rows) {
    const comment = OVERRIDES[r.name]?.comment;
    out.push('  {');
    if (comment) out.push(`    // ${comment}`);
    for (const k of ['name', 'package', 'export', 'version', 'next'])
      if (r[k] !== undefined) out.push(`    ${k}: ${q(r[k])},`);
    const targets = Object.entries(r.targets).map(([m, range]) => `${key(m)}: ${q(range)}`);
    out.push(`    targets: {${targets.length ? ` ${targets.join(', ')} ` : ''}},`);
    if (r.channels) out.push(`    channels: [${r.channels.map(q).join(', ')}],`);
    for (const k of ['always', 'defaultOff']) if (r[k] !== undefined) out.push(`    ${k}: ${r[k]},`);
    if (r.signal) out.push(`    signal: ${q(r.signal)},`);
    out.push('  },');
  }
  out.push('];', '');
  return out.join('\n');
}

async function refreshNext() {
  const { execFileSync } = require('node:child_process');
  const json = execFileSync('npm', ['view', `${AUTO}@latest`, 'version', 'dependencies', '--json'], {
    encoding: 'utf8',
  });
  const view = JSON.parse(json);
  const dependencies = Object.fromEntries(
    Object.entries(view.dependencies ?? {}).filter(([d]) => d.startsWith(PREFIX)),
  );
  fs.writeFileSync(NEXT_FILE, `${JSON.stringify({ version: view.version, dependencies }, null, 2)}\n`);
}

async function main() {
  if (process.argv.includes('--refresh-next')) await refreshNext();
  fs.writeFileSync(OUT, render(buildCatalog()));
  // The formatter's layout, so the file stays lint-clean as written.
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(
    process.execPath,
    [require.resolve('@biomejs/biome/bin/biome'), 'format', '--write', OUT],
    {
      cwd: REPO,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) process.exitCode = 1;
  process.stdout.write(`wrote ${path.relative(REPO, OUT)}\n`);
}

module.exports = { buildCatalog, render };

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`gen-catalog: ${err.stack ?? err}\n`);
    process.exit(1);
  });
}
