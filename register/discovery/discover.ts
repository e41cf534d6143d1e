// Finds instrumentors and target libraries in the node_modules folders an app resolves from, and otel-run's
// own. It runs at the start of every process, so each folder's scan is cached and reused while the folder's
// modification time (and its @scope folders') is unchanged: npm, pnpm and yarn add, remove and replace
// packages by renaming entries in these folders, which updates them. A warm start is then a few stat calls.
// The one case that changes a package without touching its folder's entries is a linked package (a
// workspace, `npm link`, `file:`): a symlink to a folder outside any node_modules, edited in place. Those
// are re-validated by their package.json's modification time. And a package manager (or a tarball extracted
// over a folder) may rewrite a package's files in place, which changes no folder's entries: so the
// package.json of every package that decides the answer (each instrumentor, each target found) is stamped
// (inode, size, modification and change times) and re-read when its stamp differs. Tens of stats, not one
// per package.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as log from '../util/stderr';
import { CATALOG, type CatalogEntry } from './catalog';
import { fromCatalog, isBuiltinTarget, type Manifest, rangesGate, readField } from './manifest';

const CACHE_FORMAT = 4;

interface PackageInfo {
  version: string;
  /** The raw "otelInstrumentor" field, when present. */
  field?: unknown;
}

interface FolderScan {
  mtimeMs: number;
  scopes: Record<string, number>;
  /** package.json modification time of each linked package (symlinked from outside any node_modules). */
  linked: Record<string, number>;
  packages: Record<string, PackageInfo>;
  problems: string[];
  /** package.json stamp of each package that decided the last answer (instrumentors and targets found). */
  stamps?: Record<string, string>;
}

interface CacheFile {
  format: number;
  folders: Record<string, FolderScan>;
  /** `range\0version` → inside the range; null when the range does not parse. */
  ranges?: Record<string, boolean | null>;
}

export interface Candidate {
  manifest: Manifest;
  package: string;
  version: string;
  /** Folder of the package as found (inside `nodeModules`; may be a symlink). */
  dir: string;
  nodeModules: string;
  /** Found on the app's own resolution path (true) or only in otel-run's install (false). */
  fromApp: boolean;
}

export interface Discovery {
  appFolders: string[];
  ownFolders: string[];
  candidates: Candidate[];
  problems: string[];
  /** Installed version of a target as the app would resolve it; builtins report Node's version. */
  installedVersion(target: string): string | null;
  /** Whether `version` is inside `range` (prereleases included); throws when `range` does not parse. */
  satisfies(version: string, range: string): boolean;
  cacheFile?: string;
  /** How the scan went: how many folders came from the cache. */
  stats: { folders: number; fromCache: number; packagesRead: number };
}

export interface DiscoverOptions {
  cwd?: string;
  /** The entry script (process.argv[1]); its folder's resolution path comes first. */
  entry?: string;
  nodePath?: string;
  /** otel-run's package folder; its node_modules (and the one it sits in) are searched for instrumentors. */
  ownRoot?: string;
  /** Where to keep the cache; false turns it off. Default: node_modules/.cache/otel-run of the app. */
  cacheDir?: string | false;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** node_modules folders Node would search from `start`, nearest first. */
export function resolutionFolders(start: string): string[] {
  const out: string[] = [];
  let dir = path.resolve(start);
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const nm = path.join(dir, 'node_modules');
      if (isDir(nm)) out.push(nm);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

function ownFolders(ownRoot: string): string[] {
  const out: string[] = [];
  const nested = path.join(ownRoot, 'node_modules');
  if (isDir(nested)) out.push(nested);
  // Installed as a dependency: its own dependencies are usually hoisted next to it.
  let up = path.dirname(ownRoot);
  if (path.basename(up).startsWith('@')) up = path.dirname(up);
  if (path.basename(up) === 'node_modules') out.push(up);
  return out;
}

function realOf(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}

/** Drops folders already listed under another path (NODE_PATH through a symlink, a linked workspace). */
function uniqReal(list: string[]): string[] {
  const seen = new Set<string>();
  return list.filter((f) => {
    const real = realOf(f);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

function mtimeOf(p: string): number | undefined {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
}

const NODE_MODULES_SEGMENT = `${path.sep}node_modules${path.sep}`;

function readPackage(dir: string, name: string, scan: FolderScan, isLink: boolean): void {
  const file = path.join(dir, 'package.json');
  if (isLink) {
    // pnpm's links point into its content-addressed store (…/node_modules/.pnpm/…/node_modules/x), whose
    // folders never change in place; a link anywhere else is a working copy that may.
    try {
      if (!fs.realpathSync.native(dir).includes(NODE_MODULES_SEGMENT)) {
        const m = mtimeOf(file);
        if (m !== undefined) scan.linked[name] = m;
      }
    } catch {
      // Dangling: reported below when package.json cannot be read.
    }
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A folder without package.json is not a package (e.g. .bin, a leftover); a dangling symlink is a
    // broken install worth one line.
    if (code === 'ENOENT' && mtimeOf(dir) === undefined) {
      scan.problems.push(`${dir} is a broken symlink — skipped`);
    } else if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      scan.problems.push(`cannot read ${file}: ${code ?? log.reason(err)} — skipped`);
    }
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    scan.problems.push(`${file} is not valid JSON (${log.reason(err)}) — that package is skipped`);
    return;
  }
  if (json === null || typeof json !== 'object') return;
  const pkg = json as { name?: unknown; version?: unknown; otelInstrumentor?: unknown };
  const info: PackageInfo = { version: typeof pkg.version === 'string' ? pkg.version : '0.0.0' };
  if (pkg.otelInstrumentor !== undefined) info.field = pkg.otelInstrumentor;
  // The folder name is what `require` resolves, so it wins over a package.json "name" that disagrees.
  scan.packages[name] = info;
}

function byName(a: fs.Dirent, b: fs.Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function scanFolder(folder: string, mtimeMs: number): FolderScan {
  const scan: FolderScan = { mtimeMs, scopes: {}, linked: {}, packages: {}, problems: [] };
  let entries: fs.Dirent[];
  try {
    // Sorted: readdir order depends on the file system, and discovery order decides which copy wins.
    entries = fs.readdirSync(folder, { withFileTypes: true }).sort(byName);
  } catch (err) {
    scan.problems.push(
      `cannot read ${folder}: ${(err as NodeJS.ErrnoException).code ?? log.reason(err)} — its packages are not searched`,
    );
    return scan;
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(folder, entry.name);
    if (entry.name.startsWith('@')) {
      let scoped: fs.Dirent[];
      try {
        scoped = fs.readdirSync(full, { withFileTypes: true }).sort(byName);
        scan.scopes[entry.name] = fs.statSync(full).mtimeMs;
      } catch (err) {
        scan.problems.push(
          `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? log.reason(err)} — skipped`,
        );
        continue;
      }
      for (const s of scoped) {
        if (s.name.startsWith('.')) continue;
        if (s.isDirectory() || s.isSymbolicLink())
          readPackage(path.join(full, s.name), `${entry.name}/${s.name}`, scan, s.isSymbolicLink());
      }
    } else if (entry.isDirectory() || entry.isSymbolicLink()) {
      readPackage(full, entry.name, scan, entry.isSymbolicLink());
    }
  }
  return scan;
}

/** A folder's entry as this version writes it: anything else is a miss, scanned again. */
function wellFormed(scan: unknown): scan is FolderScan {
  if (!isRecord(scan) || typeof scan.mtimeMs !== 'number') return false;
  if (!isRecord(scan.scopes) || !isRecord(scan.packages) || !Array.isArray(scan.problems)) return false;
  if (scan.linked !== undefined && !isRecord(scan.linked)) return false;
  if (scan.stamps !== undefined && !isRecord(scan.stamps)) return false;
  if (!scan.problems.every((p) => typeof p === 'string')) return false;
  for (const info of Object.values(scan.packages))
    if (!isRecord(info) || typeof info.version !== 'string') return false;
  return true;
}

function isFresh(scan: FolderScan | undefined, folder: string, mtimeMs: number): scan is FolderScan {
  if (!wellFormed(scan) || scan.mtimeMs !== mtimeMs) return false;
  for (const [scope, m] of Object.entries(scan.scopes)) {
    if (mtimeOf(path.join(folder, scope)) !== m) return false;
  }
  for (const [name, m] of Object.entries(scan.linked ?? {})) {
    if (mtimeOf(path.join(folder, name, 'package.json')) !== m) return false;
  }
  return true;
}

/**
 * What changes when a file's content does, whatever wrote it: the change time cannot be set back (utimes and
 * tar's preserved modification times update it), the inode changes when a file is replaced by a rename.
 */
function stampOf(file: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '-';
}

/** Re-reads the stamped packages whose package.json changed in place; true when one did. */
function refreshStamped(folder: string, scan: FolderScan): number {
  let reread = 0;
  for (const [name, stamp] of Object.entries(scan.stamps ?? {})) {
    const dir = path.join(folder, name);
    const now = stampOf(path.join(dir, 'package.json'));
    if (now === stamp) continue;
    delete scan.packages[name];
    let isLink = false;
    try {
      isLink = fs.lstatSync(dir).isSymbolicLink();
    } catch {}
    readPackage(dir, name, scan, isLink);
    (scan.stamps as Record<string, string>)[name] = now;
    reread++;
  }
  return reread;
}

function hashOf(text: string): string {
  // FNV-1a: enough to keep caches of different folder sets apart, without loading node:crypto.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}

/**
 * In the app's nearest node_modules (never a NODE_PATH folder, which may be shared), else a folder of our own
 * in the temp folder, when it is safe (privateTempDir); else nowhere.
 */
function cachePath(options: DiscoverOptions, nearest: string | undefined, all: string[]): string | undefined {
  if (options.cacheDir === false) return undefined;
  const key = hashOf(all.join('\n'));
  let dir = options.cacheDir ?? (nearest ? path.join(nearest, '.cache', 'otel-run') : undefined);
  if (dir === undefined) {
    dir = privateTempDir();
    if (dir === undefined) return undefined;
  } else {
    ensureDir(dir);
  }
  return path.join(dir, `discovery-${key}.json`);
}

/**
 * `otel-run-<uid>` in the shared temp folder: a name anyone can predict, so another local user may have made
 * it first (with links in it that a write would follow). Used only when it is a real folder (not a link),
 * owned by us, that nobody else can enter: created 0700, then checked (one of ours nobody else could write to
 * is narrowed to 0700); otherwise there is no cache (every start scans, which still works).
 */
function privateTempDir(): string | undefined {
  // process.getuid, not os.userInfo(): that throws for a uid with no passwd entry (OpenShift's random uids).
  const uid = process.getuid?.();
  const dir = path.join(os.tmpdir(), `otel-run-${uid ?? 'user'}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      log.debug(`discovery cache off: cannot create ${dir}: ${log.reason(err)}`);
      return undefined;
    }
  }
  try {
    const st = fs.lstatSync(dir);
    if (uid === undefined || (st.isDirectory() && st.uid === uid && (st.mode & 0o777) === 0o700)) return dir;
    // Made by an earlier otel-run with the umask's mode (0755): ours, and nobody else could write in it.
    if (st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0) {
      fs.chmodSync(dir, 0o700);
      return dir;
    }
    log.debug(
      `discovery cache off: ${dir} is not a private folder of this user (${st.isSymbolicLink() ? 'a link' : `uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}`})`,
    );
  } catch (err) {
    log.debug(`discovery cache off: ${dir}: ${log.reason(err)}`);
  }
  return undefined;
}

function ensureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    // Read-only image: every start is a cold start, which still works.
  }
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW = 0 } = fs.constants;

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function readCache(file: string | undefined): CacheFile | undefined {
  if (!file) return undefined;
  let fd: number | undefined;
  try {
    // Never through a link: the cache is ours, a link in its place is not.
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
    const cache = JSON.parse(fs.readFileSync(fd, 'utf8')) as unknown;
    // Any other shape (an older otel-run, a truncated or edited file) is a miss, rewritten by this start.
    if (!isRecord(cache) || cache.format !== CACHE_FORMAT || !isRecord(cache.folders)) return undefined;
    if (cache.ranges !== undefined && !isRecord(cache.ranges)) return undefined;
    return cache as unknown as CacheFile;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(file: string, cache: CacheFile): void {
  // A fresh name that nothing can be waiting at: created exclusively, never through a link, then renamed
  // over the cache (rename replaces a link rather than following it). Two processes starting at once each
  // write a whole file, and the last one wins.
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    fs.writeFileSync(fd, JSON.stringify(cache));
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    log.debug(`discovery cache not written to ${file}: ${log.reason(err)}`);
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.unlinkSync(tmp);
    } catch {}
  }
}

type RangeClass = new (
  range: string,
  options?: { includePrerelease?: boolean },
) => { test(version: string): boolean };
let RangeCtor: RangeClass | undefined;

function checkRange(version: string, range: string): boolean | null {
  RangeCtor ??= require('semver/classes/range') as RangeClass;
  try {
    return new RangeCtor(range, { includePrerelease: true }).test(version);
  } catch {
    return null;
  }
}

let catalogByPackage: Map<string, CatalogEntry> | undefined;

function catalogEntry(pkg: string): CatalogEntry | undefined {
  catalogByPackage ??= new Map(CATALOG.map((e) => [e.package, e]));
  return catalogByPackage.get(pkg);
}

const AUTO_INSTRUMENTATIONS = '@opentelemetry/auto-instrumentations-node';

export function discover(options: DiscoverOptions = {}): Discovery {
  const cwd = options.cwd ?? process.cwd();
  const starts = options.entry ? [path.dirname(options.entry), cwd] : [cwd];
  const nodePath = (options.nodePath ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((p) => path.resolve(cwd, p))
    .filter(isDir);
  const onPath = starts.flatMap(resolutionFolders);
  const resolution = uniqReal([...onPath, ...nodePath]);
  // pnpm keeps the app's transitive dependencies out of node_modules, in node_modules/.pnpm/node_modules
  // (its default hoist-pattern "*"): a library an instrumentor targets is often only there (pg-pool under
  // pg, @smithy/* under the AWS SDK). Searched last, so the app's direct dependencies come first, as npm's
  // hoisting would have them.
  const appFolders = uniqReal([
    ...resolution,
    ...resolution.map((f) => path.join(f, '.pnpm', 'node_modules')).filter(isDir),
  ]);
  const appReal = new Set(appFolders.map(realOf));
  const own = options.ownRoot
    ? uniqReal(ownFolders(options.ownRoot)).filter((f) => !appReal.has(realOf(f)))
    : [];

  const file = cachePath(options, onPath[0], [...appFolders, ...own]);
  const cache = readCache(file) ?? { format: CACHE_FORMAT, folders: {} };
  let dirty = false;
  const stats = { folders: 0, fromCache: 0, packagesRead: 0 };

  const scans = new Map<string, FolderScan>();
  const scanOf = (folder: string): FolderScan | undefined => {
    if (scans.has(folder)) return scans.get(folder);
    const mtimeMs = mtimeOf(folder);
    if (mtimeMs === undefined) return undefined;
    stats.folders++;
    let scan = cache.folders[folder];
    if (isFresh(scan, folder, mtimeMs)) {
      stats.fromCache++;
      const reread = refreshStamped(folder, scan);
      if (reread) {
        stats.packagesRead += reread;
        dirty = true;
      }
    } else {
      scan = scanFolder(folder, mtimeMs);
      stats.packagesRead += Object.keys(scan.packages).length;
      cache.folders[folder] = scan;
      dirty = true;
    }
    scans.set(folder, scan);
    return scan;
  };

  const candidates: Candidate[] = [];
  const problems: string[] = [];
  const visit = (folder: string, fromApp: boolean): void => {
    const scan = scanOf(folder);
    if (!scan) return;
    problems.push(...scan.problems);
    for (const [name, info] of Object.entries(scan.packages)) {
      // Most packages are neither instrumentors nor the reference: skip them before any path work (this
      // loop runs over every package on every start, ~5 ms of a warm start on 2,000 packages otherwise).
      if (info.field === undefined && name !== AUTO_INSTRUMENTATIONS && !catalogEntry(name)) continue;
      const dir = path.join(folder, name);
      const base = { package: name, version: info.version, dir, nodeModules: folder, fromApp };
      if (info.field !== undefined) {
        for (const manifest of readField(name, info.field)) candidates.push({ ...base, manifest });
        continue;
      }
      const entry = catalogEntry(name);
      if (entry) candidates.push({ ...base, manifest: fromCatalog(entry) });
      // Its instrumentations may sit in its own node_modules (a version conflict) or, with pnpm, beside its
      // real folder in the store (…/.pnpm/@opentelemetry+auto-instrumentations-node@x/node_modules).
      if (name === AUTO_INSTRUMENTATIONS) {
        const real = realOf(dir);
        const store = path.dirname(path.dirname(real));
        for (const f of [path.join(dir, 'node_modules'), store]) {
          if (path.basename(f) !== 'node_modules' || !isDir(f)) continue;
          const r = realOf(f);
          if (!extraReal.has(r) && !appReal.has(r)) {
            extraReal.add(r);
            extra.push(f);
          }
        }
      }
    }
  };
  const extra: string[] = [];
  const extraReal = new Set(own.map(realOf));
  // An auto-instrumentations-node the app installed comes before otel-run's own install, as the app's other
  // packages do; one otel-run's install holds comes after it.
  for (const f of appFolders) visit(f, true);
  let i = 0;
  for (; i < extra.length; i++) visit(extra[i] as string, true);
  for (const f of own) visit(f, false);
  for (; i < extra.length; i++) visit(extra[i] as string, false);

  const versions = new Map<string, string | null>();
  const installedVersion = (target: string): string | null => {
    if (versions.has(target)) return versions.get(target) ?? null;
    let found: string | null = null;
    for (const f of appFolders) {
      const info = scanOf(f)?.packages[target];
      if (info) {
        found = info.version;
        break;
      }
    }
    versions.set(target, found);
    return found;
  };

  // Range checks are remembered with the scans: loading semver and parsing ranges costs ~20 ms, and the
  // answer for a (range, version) pair never changes. Every check plan() will ask for is made here, so a warm
  // start loads no semver at all.
  cache.ranges ??= {};
  const ranges = cache.ranges;
  const satisfies = (version: string, range: string): boolean => {
    if (range.trim() === '*' || range.trim() === '') return true;
    const key = `${range}\u0000${version}`;
    let ok = ranges[key];
    if (ok === undefined || (ok !== null && typeof ok !== 'boolean')) {
      ok = checkRange(version, range);
      ranges[key] = ok;
      dirty = true;
    }
    if (ok === null) throw new Error(`${JSON.stringify(range)} is not a semver range`);
    return ok;
  };
  for (const c of candidates) {
    const gate = rangesGate(c.manifest, c.version);
    for (const [module, range] of Object.entries(c.manifest.targets)) {
      const installed = isBuiltinTarget(module) ? process.versions.node : installedVersion(module);
      if (!gate || (installed === null && c.manifest.source !== 'field')) continue;
      try {
        satisfies(installed ?? '0.0.0', range);
      } catch {
        // Remembered as invalid; plan() reports it.
      }
    }
  }

  // Stamp what decided this answer: each instrumentor's package.json and each target's that was found.
  const decided = new Map<string, Set<string>>();
  const mark = (folder: string, name: string) => {
    let names = decided.get(folder);
    if (!names) {
      names = new Set();
      decided.set(folder, names);
    }
    names.add(name);
  };
  for (const c of candidates) mark(c.nodeModules, c.package);
  for (const target of versions.keys()) {
    const folder = appFolders.find((f) => scanOf(f)?.packages[target]);
    if (folder) mark(folder, target);
  }
  for (const [folder, scan] of scans) {
    const names = decided.get(folder) ?? new Set<string>();
    const old = scan.stamps ?? {};
    const stamps: Record<string, string> = {};
    for (const name of [...names].sort())
      stamps[name] = old[name] ?? stampOf(path.join(folder, name, 'package.json'));
    if (JSON.stringify(stamps) !== JSON.stringify(old)) {
      scan.stamps = stamps;
      dirty = true;
    }
  }

  if (dirty && file) writeCache(file, cache);

  return {
    appFolders,
    ownFolders: own,
    candidates,
    problems,
    installedVersion,
    satisfies,
    cacheFile: file,
    stats,
  };
}
