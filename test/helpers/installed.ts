// otel-run as users get it: `npm pack` once per run, then temporary app folders that install the tarball with
// production dependencies only, beside the app's own libraries, laid out by npm, pnpm or yarn classic (both
// from this project's devDependencies). Nothing here can see the checkout's node_modules: the apps live in
// the system's temp folder, run with a hermetic environment and no NODE_PATH.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { describeResult, hermeticEnv, REPO_ROOT, type RunResult, run } from './run';

/** `pnpm` is pnpm's strict default, `pnpm-hoisted` its `node-linker=hoisted`; `yarn` is yarn classic; `yarn-berry` is yarn 4 with `nodeLinker: node-modules`, `yarn-pnp` with Plug'n'Play. */
export type Layout = 'npm' | 'pnpm' | 'pnpm-hoisted' | 'yarn' | 'yarn-berry' | 'yarn-pnp';

const PNPM = path.join(REPO_ROOT, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
const YARN = path.join(REPO_ROOT, 'node_modules', 'yarn', 'bin', 'yarn.js');

/** Yarn berry's CLI (scripts/nodes.js installs it under node_modules/.cache). */
export function yarnBerry(): { bin?: string; why?: string } {
  const { ensureYarnBerry } = require(path.join(REPO_ROOT, 'scripts', 'nodes.js')) as {
    ensureYarnBerry(): { bin?: string; why?: string };
  };
  return ensureYarnBerry();
}

const temps: string[] = [];
// At the file's top level (this module loads with the test file): an `after` called from inside a test would
// belong to that test, and remove the shared tarball while other suites still install it.
after(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  temps.push(dir);
  return dir;
}

/** The Node line this runner is on: 20 gets the 0.2xx instrumentations, 22.15+ the 0.30x ones. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
export const NEW_LINE = NODE_MAJOR >= 22;

/**
 * The app's libraries as `npm install express pino @opentelemetry/instrumentation-express …` gives a user on
 * this Node today: the 0.30x line (api 1.10) needs Node >= 22.15, so a Node 20 user stays on the last 0.2xx.
 */
export function userLibraries(line: 'old' | 'new' = NEW_LINE ? 'new' : 'old'): Record<string, string> {
  return {
    express: '4.22.1',
    pino: '10.4.0',
    '@opentelemetry/instrumentation-express': line === 'new' ? '0.72.0' : '0.71.1',
    '@opentelemetry/instrumentation-pino': line === 'new' ? '0.70.0' : '0.69.0',
  };
}

let tarball: string | undefined;

/** `npm pack` of the built checkout, once per run (the build already ran: prepack, which empties dist/, is skipped). */
export async function packOnce(): Promise<string> {
  if (tarball) return tarball;
  // Another build to compare with (an older release, a colleague's branch): OTEL_RUN_TEST_TARBALL=<file.tgz>.
  const given = process.env.OTEL_RUN_TEST_TARBALL;
  if (given) {
    tarball = path.resolve(given);
    return tarball;
  }
  const dest = tempDir('otel-run-pack-');
  const r = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dest], {
    cwd: REPO_ROOT,
    env: hermeticEnv({ npm_config_update_notifier: 'false' }),
    timeoutMs: 120_000,
  });
  const file = fs.readdirSync(dest).find((f) => f.endsWith('.tgz'));
  if (r.code !== 0 || !file) throw new Error(`npm pack failed\n${describeResult(r)}`);
  tarball = path.join(dest, file);
  return tarball;
}

export interface InstalledApp {
  dir: string;
  layout: Layout;
  install: RunResult;
}

/** The command that installs production dependencies only, from the cache where it can. */
function installCommand(layout: Layout, dir: string): [string, string[]] {
  switch (layout) {
    case 'yarn-berry':
    case 'yarn-pnp': {
      const berry = yarnBerry();
      if (!berry.bin) throw new Error(`yarn berry: ${berry.why}`);
      // Berry installs from its own lockfile; an empty one marks this folder as the project's root.
      fs.writeFileSync(path.join(dir, 'yarn.lock'), '');
      fs.writeFileSync(
        path.join(dir, '.yarnrc.yml'),
        `nodeLinker: ${layout === 'yarn-pnp' ? 'pnp' : 'node-modules'}\nnpmRegistryServer: "https://registry.npmjs.org"\nenableTelemetry: false\nenableGlobalCache: true\n`,
      );
      return [process.execPath, [berry.bin, 'install']];
    }
    case 'npm':
      return ['npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund']];
    case 'pnpm':
      // The strict default layout: each package sees only what it declares (and its peers).
      return [process.execPath, [PNPM, 'install', '--prod', '--prefer-offline', '--reporter=append-only']];
    case 'pnpm-hoisted':
      return [
        process.execPath,
        [
          PNPM,
          'install',
          '--prod',
          '--prefer-offline',
          '--reporter=append-only',
          '--config.node-linker=hoisted',
        ],
      ];
    case 'yarn':
      // Yarn classic checks engines strictly: an app on Node 20 with the 0.30x line would not install at all.
      return [
        process.execPath,
        [YARN, 'install', '--production', '--prefer-offline', '--non-interactive', '--ignore-engines'],
      ];
  }
}

// Installs are kept between the runs of one `npm test` (Node 20, 22, 24: the 0.30x apps of 22 and 24 are the
// same) under the system's temp folder, never inside the checkout, whose node_modules they must not see. The key
// is the tarball's bytes (npm pack dates every file 1985, so an unchanged build packs the same bytes), the
// layout, the dependencies and the files; entries older than a day are removed.
const INSTALLS = path.join(os.tmpdir(), `otel-run-installed-apps-${process.getuid?.() ?? 'user'}`);
const DAY_MS = 24 * 60 * 60 * 1000;
let pruned = false;
function pruneInstalls(): void {
  if (pruned) return;
  pruned = true;
  for (const name of fs.existsSync(INSTALLS) ? fs.readdirSync(INSTALLS) : []) {
    const dir = path.join(INSTALLS, name);
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > DAY_MS) fs.rmSync(dir, { recursive: true, force: true });
    } catch {}
  }
}

const pending = new Map<string, Promise<InstalledApp>>();

export interface InstallOptions {
  /** The app is the one package of a workspace (npm/yarn `workspaces`, pnpm-workspace.yaml), installed at its root. */
  workspace?: boolean;
}

/** A temp app folder with `files`, otel-run from the tarball and `dependencies`, installed by `layout`. */
export function installApp(
  layout: Layout,
  dependencies: Record<string, string>,
  files: Record<string, string>,
  options: InstallOptions = {},
): Promise<InstalledApp> {
  // Tests run two at a time: the same app asked twice is installed once.
  const id = JSON.stringify([layout, dependencies, files, options]);
  let install = pending.get(id);
  if (!install) {
    install = installOnce(layout, dependencies, files, options);
    pending.set(id, install);
  }
  return install;
}

async function installOnce(
  layout: Layout,
  dependencies: Record<string, string>,
  files: Record<string, string>,
  options: InstallOptions,
): Promise<InstalledApp> {
  const pack = await packOnce();
  pruneInstalls();
  const { createHash } = await import('node:crypto');
  const key = createHash('sha256')
    .update(fs.readFileSync(pack))
    .update(JSON.stringify([layout, dependencies, files, options]))
    .digest('hex')
    .slice(0, 16);
  const home = path.join(INSTALLS, `${layout}${options.workspace ? '-workspace' : ''}-${key}`);
  const project = options.workspace ? path.join(home, 'ws') : path.join(home, 'app');
  const dir = options.workspace ? path.join(project, 'app') : project;
  const done = path.join(home, 'installed');
  const whole = () => Object.keys(files).every((f) => fs.existsSync(path.join(dir, f)));
  if (fs.existsSync(done) && whole())
    return { dir: fs.realpathSync(dir), layout, install: JSON.parse(fs.readFileSync(done, 'utf8')) };
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // The tarball beside the app: a file: path into this run's temp folder would not outlive it.
  const local = path.join(home, path.basename(pack));
  fs.copyFileSync(pack, local);
  const manifest = {
    name: 'installed-app',
    version: '1.0.0',
    private: true,
    dependencies: { 'otel-run': `file:${local}`, ...dependencies },
  };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (options.workspace) {
    const root = { name: 'installed-workspace', version: '1.0.0', private: true, workspaces: ['app'] };
    fs.writeFileSync(path.join(project, 'package.json'), `${JSON.stringify(root, null, 2)}\n`);
    fs.writeFileSync(path.join(project, 'pnpm-workspace.yaml'), 'packages:\n  - app\n');
  }
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const [cmd, args] = installCommand(layout, project);
  const install = await run(cmd, args, {
    cwd: project,
    env: hermeticEnv({
      NODE_PATH: undefined,
      npm_config_update_notifier: 'false',
      CI: 'true',
      // Berry turns CI=true into --immutable, which refuses to write the lockfile of a fresh app.
      YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
    }),
    timeoutMs: 240_000,
  });
  if (install.code !== 0) throw new Error(`${layout} install failed in ${dir}\n${describeResult(install)}`);
  fs.writeFileSync(done, JSON.stringify(install));
  return { dir: fs.realpathSync(dir), layout, install };
}

/** The environment of a run inside an installed app: this runner's Node first on PATH, no NODE_PATH. */
export function appEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = hermeticEnv();
  return hermeticEnv({
    NODE_PATH: undefined,
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${base.PATH ?? ''}`,
    ...extra,
  });
}

/**
 * Where the app's node_modules lookup finds otel-run (a workspace hoists it to the root). Walked by hand:
 * `require.resolve('otel-run/…', { paths })` from this checkout would answer with the checkout itself (a
 * package's self-reference wins over `paths`).
 */
function installedBin(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    const bin = path.join(d, 'node_modules', 'otel-run', 'bin', 'otel-run.js');
    if (fs.existsSync(bin)) return bin;
    if (path.dirname(d) === d) throw new Error(`no node_modules/otel-run above ${dir}`);
  }
}

/** `otel-run <args>` as the app's own install has it. */
export function otelRun(
  app: InstalledApp,
  args: string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const bin = installedBin(app.dir);
  return run(process.execPath, [bin, ...args], { cwd: app.dir, env: appEnv(extra), timeoutMs: 60_000 });
}

/** `yarn otel-run <args>` through yarn berry, which preloads its .pnp.cjs under Plug'n'Play. */
export function yarnOtelRun(
  app: InstalledApp,
  args: string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const berry = yarnBerry();
  if (!berry.bin) throw new Error(`yarn berry: ${berry.why}`);
  return run(process.execPath, [berry.bin, 'otel-run', ...args], {
    cwd: app.dir,
    env: appEnv({ YARN_ENABLE_TELEMETRY: 'false', ...extra }),
    timeoutMs: 60_000,
  });
}

/** An express + pino app: two requests to itself, a log line in each handler, then it exits. */
export const EXPRESS_PINO_APP = `'use strict';
const http = require('node:http');
const express = require('express');
const pino = require('pino');
const logger = pino();
const app = express();
app.get('/hello/:name', (req, res) => {
  logger.info({ who: req.params.name }, 'hello');
  res.send('hi ' + req.params.name);
});
const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  for (const name of ['a', 'b']) {
    await new Promise((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path: '/hello/' + name }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject),
    );
  }
  server.close();
});
`;
