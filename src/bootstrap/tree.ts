// The app's runtime dependency tree, direct and transitive, as Node would load it: from node_modules when the
// app is installed (each dependency resolved from the folder of the package that asks for it, so npm's nesting,
// pnpm's store and yarn's hoisting all read right), else from package-lock.json (npm's v2/v3 lockfile maps the
// same folder layout). Python's opentelemetry-bootstrap looks at every installed distribution; an app's
// libraries often come through another (express 5 routes through `router`, fastify logs through `pino`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolutionFolders } from '../../register/discovery/discover';

export interface TreePackage {
  name: string;
  version: string;
  /** The app's direct dependency it comes through (`express@5.2.1`), or null for a direct dependency. */
  via: string | null;
}

export interface Tree {
  source: 'node_modules' | 'lockfile';
  /** Every package reached from the app's dependencies, nearest first (breadth first), once per name. */
  packages: TreePackage[];
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** Bounds the walk of a huge tree: bootstrap answers in seconds. */
const MAX_PACKAGES = 20_000;

function readJson(file: string): PackageJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

function runtimeDeps(pkg: PackageJson): string[] {
  // Peers are what the package loads from its parent's tree: installed ones count.
  return Object.keys({ ...pkg.peerDependencies, ...pkg.optionalDependencies, ...pkg.dependencies });
}

/**
 * Breadth-first from the app's runtime dependencies (devDependencies do not run in production): the first
 * path to a package names the direct dependency it comes through.
 */
function walk<N>(
  roots: string[],
  resolve: (from: N | undefined, name: string) => N | undefined,
  read: (node: N) => { key: string; name: string; version: string; deps: string[] } | undefined,
): TreePackage[] {
  const out: TreePackage[] = [];
  const seenNodes = new Set<string>();
  const seenNames = new Set<string>();
  let queue: { node: N; via: string | null }[] = [];
  for (const name of roots) {
    const node = resolve(undefined, name);
    if (node !== undefined) queue.push({ node, via: null });
  }
  while (queue.length && seenNodes.size < MAX_PACKAGES) {
    const next: typeof queue = [];
    for (const { node, via } of queue) {
      const info = read(node);
      if (!info || seenNodes.has(info.key)) continue;
      seenNodes.add(info.key);
      if (!seenNames.has(info.name)) {
        seenNames.add(info.name);
        out.push({ name: info.name, version: info.version, via });
      }
      const through = via ?? `${info.name}@${info.version}`;
      for (const dep of info.deps) {
        const child = resolve(node, dep);
        if (child !== undefined) next.push({ node: child, via: through });
      }
    }
    queue = next;
  }
  return out;
}

function realOf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}

/** The installed tree under `root`, or undefined when nothing is installed there. */
export function installedTree(root: string, manifest: PackageJson): Tree | undefined {
  if (!fs.existsSync(path.join(root, 'node_modules'))) return undefined;
  const folderCache = new Map<string, string[]>();
  const foldersOf = (dir: string) => {
    let f = folderCache.get(dir);
    if (!f) {
      f = resolutionFolders(dir);
      folderCache.set(dir, f);
    }
    return f;
  };
  const packages = walk<string>(
    runtimeDeps(manifest),
    (from, name) => {
      // Resolved from the real folder of the package asking, as Node does (pnpm's links point into its store).
      for (const folder of foldersOf(from ?? root)) {
        const dir = path.join(folder, name);
        if (fs.existsSync(path.join(dir, 'package.json'))) return realOf(dir);
      }
      return undefined;
    },
    (dir) => {
      const pkg = readJson(path.join(dir, 'package.json'));
      if (!pkg) return undefined;
      const name = typeof pkg.name === 'string' ? pkg.name : path.basename(dir);
      return { key: dir, name, version: String(pkg.version ?? '0.0.0'), deps: runtimeDeps(pkg) };
    },
  );
  return { source: 'node_modules', packages };
}

interface LockPackage {
  version?: string;
  name?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/** The tree npm's lockfile (v2 or v3: a `packages` map keyed by folder) describes, before any install. */
export function lockfileTree(root: string, lockfile: string | null): Tree | undefined {
  if (!lockfile || !/(package-lock|npm-shrinkwrap)\.json$/.test(lockfile)) return undefined;
  let lock: { packages?: Record<string, LockPackage> };
  try {
    lock = JSON.parse(fs.readFileSync(lockfile, 'utf8'));
  } catch {
    return undefined;
  }
  const all = lock.packages;
  if (!all) return undefined;
  // A workspace's lockfile sits at the repository root: keys are relative to it.
  const base = path.relative(path.dirname(lockfile), root).split(path.sep).join('/');
  const app = all[base];
  if (!app) return undefined;
  const get = (key: string): LockPackage | undefined => {
    const p = all[key];
    // A workspace link: its folder's entry holds the package.
    return p?.link && p.resolved ? all[p.resolved] : p;
  };
  const packages = walk<string>(
    runtimeDeps(app),
    (from, name) => {
      // Node's lookup over the lockfile's folder keys: <from>/node_modules/<name>, then each parent's.
      let dir = from ?? base;
      for (;;) {
        const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
        if (all[key]) return key;
        if (!dir) return undefined;
        const cut = dir.lastIndexOf('/node_modules/');
        dir = cut >= 0 ? dir.slice(0, cut) : dir.startsWith('node_modules/') ? '' : path.posix.dirname(dir);
        if (dir === '.') dir = '';
      }
    },
    (key) => {
      const p = get(key);
      if (!p) return undefined;
      const name = p.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      return { key, name, version: p.version ?? '0.0.0', deps: runtimeDeps(p) };
    },
  );
  return { source: 'lockfile', packages };
}
