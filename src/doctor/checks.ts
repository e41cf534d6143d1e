// The common mistakes `otel-run doctor` looks for in an app: several copies of @opentelemetry/api, an
// OpenTelemetry setup (or another agent) of the app's own, a bundled entry file whose libraries cannot be
// hooked, and a NODE_OPTIONS preload that only works from one folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OWN_ROOT } from '../../register/contract';
import { resolutionFolders } from '../../register/discovery/discover';
import { findOwningPackage, readPackageJson } from '../../register/util/package-json';
import { PNP_UNSUPPORTED, pnpManifest } from '../../register/util/pnp';
import { detectPackageManager } from '../bootstrap/bootstrap';
import { splitNodeOptions } from '../run/node-options';

export interface Finding {
  level: 'ok' | 'warn' | 'problem';
  text: string;
  hint?: string;
}

const API = '@opentelemetry/api';
/** Bounds the walk of a huge tree: doctor answers in seconds, a partial answer says so. */
const MAX_FOLDERS = 20_000;

export interface ApiCopy {
  version: string;
  dir: string;
}

function readVersion(dir: string): string | undefined {
  const version = readPackageJson(dir)?.version;
  return typeof version === 'string' ? version : undefined;
}

function listDir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/**
 * Every copy of @opentelemetry/api under `root`'s node_modules, nested ones included, and pnpm's store
 * (node_modules/.pnpm/<name>@<version>/node_modules). Symlinks are not followed (pnpm's top-level links
 * point into the store, which is walked), and copies are counted once by real path.
 */
export function findApiCopies(root: string): { copies: ApiCopy[]; truncated: boolean } {
  const seen = new Set<string>();
  const copies: ApiCopy[] = [];
  let visited = 0;
  const consider = (dir: string) => {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    const version = readVersion(dir);
    if (version) copies.push({ version, dir });
  };
  const walk = (nodeModules: string) => {
    if (++visited > MAX_FOLDERS) return;
    for (const entry of listDir(nodeModules)) {
      const full = path.join(nodeModules, entry.name);
      if (entry.name === '.pnpm') {
        for (const stored of listDir(full)) {
          if (stored.isDirectory()) walk(path.join(full, stored.name, 'node_modules'));
        }
        continue;
      }
      if (entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@')) {
        for (const scoped of listDir(full)) {
          const pkg = path.join(full, scoped.name);
          if (`${entry.name}/${scoped.name}` === API && (scoped.isDirectory() || scoped.isSymbolicLink()))
            consider(pkg);
          if (scoped.isDirectory()) walk(path.join(pkg, 'node_modules'));
        }
      } else if (entry.isDirectory()) {
        walk(path.join(full, 'node_modules'));
      }
    }
  };
  walk(path.join(root, 'node_modules'));
  return { copies, truncated: visited > MAX_FOLDERS };
}

function ownApiVersion(): string | undefined {
  let entry: string;
  try {
    entry = require.resolve(API, { paths: [OWN_ROOT] });
  } catch {
    return undefined;
  }
  const found = findOwningPackage(path.dirname(entry), API);
  return found ? readVersion(found.dir) : undefined;
}

function compare(a: string, b: string): number {
  const semver = require('semver') as typeof import('semver');
  const ca = semver.coerce(a);
  const cb = semver.coerce(b);
  return ca && cb ? semver.compare(ca, cb) : 0;
}

/** The fix for several api copies in the layout the app's package manager makes. */
export function apiFix(root: string, newest: string): string {
  const pm = detectPackageManager(root, readManifestAt(root)).name;
  if (pm === 'pnpm')
    return `pnpm links each package to the api copy it asks for: \`pnpm add ${API}@${newest}\` at the workspace root, and \`"pnpm": { "overrides": { "${API}": "${newest}" } }\` in package.json to make every package share it (pnpm why ${API} shows who pulls each copy)`;
  if (pm === 'yarn')
    return `yarn does not install peer dependencies: \`yarn add ${API}@${newest}\`, and \`"resolutions": { "${API}": "${newest}" }\` in package.json to make every package share it (yarn why ${API} shows who pulls each copy)`;
  return `align the versions your dependencies ask for (\`npm install ${API}@${newest}\`, or \`"overrides": { "${API}": "${newest}" }\` in package.json), then \`npm dedupe\` (npm ls ${API} shows who pulls each copy)`;
}

function readManifestAt(root: string): AppManifest & { packageManager?: string } {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as AppManifest;
  } catch {
    return {};
  }
}

/** Yarn Plug'n'Play: nothing otel-run finds through node_modules is there. */
export function checkPnp(root: string): Finding | undefined {
  const manifest = pnpManifest(root);
  if (!manifest) return undefined;
  const [text, hint] = PNP_UNSUPPORTED.split(' — ');
  return { level: 'problem', text: `${text} (${manifest})`, hint };
}

/**
 * Several copies are a problem when one is newer than the copy otel-run registers through (the newest of the
 * app's resolved copy and its own): the API hands a newer reader a no-op tracer, so spans made through that
 * copy are lost. Older copies read the provider fine; they are reported as a warning.
 */
export function checkApiCopies(root: string, instrumentorDirs: readonly string[] = []): Finding {
  const { copies: all, truncated } = findApiCopies(root);
  const ownModules = path.join(OWN_ROOT, 'node_modules') + path.sep;
  const copies = all.filter((c) => !c.dir.startsWith(ownModules));
  const rel = (c: ApiCopy) => `${c.version} (${path.relative(root, c.dir) || c.dir})`;
  const partial = truncated ? ' (the tree is large: only part of it was searched)' : '';
  if (copies.length <= 1) {
    return {
      level: 'ok',
      text: copies.length
        ? `one copy of ${API} in the app (${copies[0]?.version})${partial}`
        : `no copy of ${API} in the app: otel-run's own serves it${partial}`,
    };
  }
  const appResolved = readVersion(path.join(root, 'node_modules', API));
  const own = ownApiVersion();
  // The preload registers through the newest 1.x copy the enabled instrumentors resolve too (sdk/api-copies.ts).
  const { findCopies } =
    require('../../register/sdk/api-copies') as typeof import('../../register/sdk/api-copies');
  const served = findCopies(instrumentorDirs.map((dir) => ({ who: dir, dir, package: true })))
    .copies.filter((c) => c.parts[0] === 1)
    .map((c) => c.version);
  const registered = [appResolved, own, ...served]
    .filter((v): v is string => !!v)
    .sort(compare)
    .pop();
  const newer = registered ? copies.filter((c) => compare(c.version, registered) > 0) : [];
  const versions = new Set(copies.map((c) => c.version));
  const list = copies.map(rel).join(', ');
  const newest =
    copies
      .map((c) => c.version)
      .sort(compare)
      .pop() ?? '1';
  const hint = apiFix(root, newest);
  if (newer.length) {
    return {
      level: 'problem',
      text: `${copies.length} copies of ${API}: ${list}; spans made through ${newer.map(rel).join(', ')} are lost (newer than ${registered}, which otel-run registers through)`,
      hint,
    };
  }
  if (versions.size > 1) {
    return {
      level: 'problem',
      text: `${copies.length} copies of ${API} with different versions: ${list}`,
      hint,
    };
  }
  return { level: 'warn', text: `${copies.length} copies of ${API} (same version): ${list}`, hint };
}

export interface AppManifest {
  name?: string;
  main?: string;
  type?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const OWN_SDKS = ['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace-node'];
const OTHER_AGENTS = [
  'dd-trace',
  'newrelic',
  'elastic-apm-node',
  '@elastic/opentelemetry-node',
  '@splunk/otel',
  '@sentry/node',
  '@honeycombio/opentelemetry-node',
];

export function checkOwnSetup(manifest: AppManifest, nodeOptions: string | undefined): Finding[] {
  const deps = { ...manifest.optionalDependencies, ...manifest.dependencies };
  const out: Finding[] = [];
  const sdks = OWN_SDKS.filter((d) => deps[d] !== undefined);
  if (sdks.length) {
    out.push({
      level: 'problem',
      text: `the app depends on ${sdks.join(' and ')}: it sets up OpenTelemetry itself, and otel-run then steps aside (or spans are doubled)`,
      hint: 'remove the app’s own SDK setup (a tracing.js loaded with --require, or code at the top of the entry file) and let otel-run do it',
    });
  }
  const agents = OTHER_AGENTS.filter((d) => deps[d] !== undefined);
  if (agents.length) {
    out.push({
      level: 'warn',
      text: `the app depends on ${agents.join(', ')}: if it starts its own tracing, otel-run steps aside`,
      hint: 'use one of the two',
    });
  }
  const args = splitNodeOptions(nodeOptions ?? '');
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value =
      a === '--require' || a === '-r' || a === '--import'
        ? args[i + 1]
        : /^--(?:require|import)=(.*)$/.exec(a)?.[1];
    if (!value) continue;
    if (/auto-instrumentations-node\/register|@opentelemetry\/sdk-node/.test(value)) {
      out.push({
        level: 'problem',
        text: `NODE_OPTIONS already preloads ${value}: two agents in one process`,
        hint: 'remove it from NODE_OPTIONS when you use otel-run',
      });
    } else if (/^otel-run\/register/.test(value)) {
      out.push({
        level: 'problem',
        text: `NODE_OPTIONS preloads ${value} by package name: Node resolves it from each process's working directory, and a process started elsewhere dies with MODULE_NOT_FOUND`,
        hint: 'use the absolute path: otel-run env prints it',
      });
    }
  }
  return out;
}

const BUNDLERS: ReadonlyArray<[RegExp, string]> = [
  [/__webpack_require__/, 'webpack'],
  [/__nccwpck_require__/, 'ncc'],
  [/\b__commonJS\(|\b__toESM\(/, 'esbuild'],
  [/\bparcelRequire\b/, 'parcel'],
  [/\brollupPluginBabelHelpers\b|\bcreateCommonjsModule\(/, 'rollup'],
];
/** Larger than any hand-written entry file: one that big almost surely carries its dependencies. */
const LARGE_ENTRY = 1024 * 1024;

/**
 * A bundle carries its libraries inside one file: they are never `require`d by name, so no require hook
 * sees them. Bundlers leave module paths behind (`node_modules/express/...` in comments and ids): a library
 * named there that the entry cannot also require from node_modules is one that cannot be traced.
 */
export function checkBundle(entry: string | undefined, libraries: readonly string[]): Finding | undefined {
  if (!entry) return undefined;
  let text: string;
  let size: number;
  try {
    size = fs.statSync(entry).size;
    text = fs.readFileSync(entry, 'utf8');
  } catch (err) {
    return {
      level: 'problem',
      text: `cannot read the entry file ${entry}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    };
  }
  const bundler = BUNDLERS.find(([re]) => re.test(text))?.[1];
  if (!bundler && size < LARGE_ENTRY) return { level: 'ok', text: `${path.basename(entry)} is not a bundle` };
  const folders = resolutionFolders(path.dirname(entry));
  const installed = (lib: string) => folders.some((f) => fs.existsSync(path.join(f, lib, 'package.json')));
  const inside = libraries.filter((lib) => text.includes(`node_modules/${lib}/`) && !installed(lib));
  const what = `${path.basename(entry)} looks bundled (${bundler ?? 'no known bundler'}, ${size >= 1024 * 1024 ? `${(size / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(size / 1024)} kB`})`;
  const hint =
    'keep libraries out of the bundle (esbuild --packages=external, webpack externals / webpack-node-externals) and ship node_modules beside it';
  if (inside.length)
    return {
      level: 'problem',
      text: `${what} with ${inside.join(', ')} inside: a bundled library is never require()d, so it cannot be traced`,
      hint,
    };
  if (folders.length === 0)
    return {
      level: 'problem',
      text: `${what} and has no node_modules: its libraries are inside the bundle and cannot be traced (only http and fetch are)`,
      hint,
    };
  return { level: 'warn', text: `${what}: libraries inside the bundle cannot be traced`, hint };
}
