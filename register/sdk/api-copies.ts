// Which @opentelemetry/api copy the SDK registers through. A process may hold several copies: the app's,
// otel-run's, and each instrumentation's own (pnpm links an instrumentation's api beside it in the store, yarn
// nests a copy under it, an image may keep instrumentations in a folder of their own). The API's registry is
// one global object per major, and a copy reads it only when it was written by the same major and an equal or
// NEWER minor (its isCompatible rule; a 1.10 copy hands out no-op tracers and a root context when 1.9 wrote
// it). The first copy that writes anything (diag included) fixes the object's version for the process. So
// everything is registered through the single newest 1.x copy any reader resolves, before any other writes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OWN_ROOT } from '../contract';
import * as log from '../util/stderr';

type Api = typeof import('@opentelemetry/api');

const API = '@opentelemetry/api';
const INSTRUMENTATION = '@opentelemetry/instrumentation';
const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');

export interface ApiCopy {
  /** The file `require` loads. */
  file: string;
  version: string;
  parts: [number, number, number];
  /** Who resolves it: "otel-run", "the app", or "instrumentor <name>". */
  readers: string[];
}

/** A folder whose api copy counts: the app's entry and cwd, and each enabled instrumentor's package. */
export interface Reader {
  who: string;
  dir: string;
  /** An instrumentor: its `@opentelemetry/instrumentation` reads the API too (a peer, resolved from there). */
  package?: boolean;
}

function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

function resolveFrom(id: string, dir: string): string | undefined {
  try {
    return require.resolve(id, { paths: [realDir(dir)] });
  } catch {
    return undefined;
  }
}

/** The package folder of a resolved file: the API's and the base's "exports" hide their package.json. */
export function packageOf(file: string, name: string): { dir: string; version: string } | undefined {
  let dir = path.dirname(file);
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === name && typeof pkg.version === 'string') return { dir, version: pkg.version };
    } catch {}
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function parse(version: string): [number, number, number] {
  const [a, b, c] = version.split(/[.+-]/).map((n) => Number.parseInt(n, 10) || 0);
  return [a ?? 0, b ?? 0, c ?? 0];
}

function compare(a: ApiCopy, b: ApiCopy): number {
  for (let i = 0; i < 3; i++) if (a.parts[i] !== b.parts[i]) return (a.parts[i] ?? 0) - (b.parts[i] ?? 0);
  return 0;
}

/** Every api copy the readers resolve, by real file (pnpm's links and yarn's nesting give the same file). */
export function findCopies(readers: readonly Reader[]): { copies: ApiCopy[]; unresolved: Reader[] } {
  const byFile = new Map<string, ApiCopy>();
  const unresolved: Reader[] = [];
  const add = (file: string, who: string) => {
    const real = realDir(file);
    const pkg = packageOf(real, API);
    if (!pkg) return;
    let copy = byFile.get(real);
    if (!copy) {
      copy = { file: real, version: pkg.version, parts: parse(pkg.version), readers: [] };
      byFile.set(real, copy);
    }
    if (!copy.readers.includes(who)) copy.readers.push(who);
  };
  for (const r of readers) {
    const own = resolveFrom(API, r.dir);
    if (own) add(own, r.who);
    else if (r.package) unresolved.push(r);
    if (!r.package) continue;
    // The instrumentation base requires the API from its own folder: under pnpm that is another store entry.
    const base = resolveFrom(INSTRUMENTATION, r.dir);
    const baseDir = base && packageOf(realDir(base), INSTRUMENTATION)?.dir;
    const fromBase = baseDir && resolveFrom(API, baseDir);
    if (fromBase) add(fromBase, r.who);
  }
  return { copies: [...byFile.values()], unresolved };
}

let chosen: Api | undefined;

/** The copy chosen by `chooseApi` (otel-run's own before that). */
export function chosenApi(): Api {
  return chosen ?? (require(API) as Api);
}

/**
 * The newest 1.x copy among the readers' (otel-run's own always among them), loaded. Copies of another
 * major cannot be served: one warning each, naming who reads it.
 */
export function chooseApi(readers: readonly Reader[]): Api {
  const own = require.resolve(API);
  const { copies, unresolved } = findCopies([{ who: 'otel-run', dir: OWN_ROOT }, ...readers]);
  for (const r of unresolved)
    log.debug(`${r.who}: ${API} cannot be resolved from ${realDir(r.dir)} — left to its own load to report`);
  const usable = copies.filter((c) => c.parts[0] === 1);
  for (const c of copies) {
    if (c.parts[0] === 1) continue;
    log.warn(
      `${c.readers.join(', ')} ${c.readers.length > 1 ? 'use' : 'uses'} ${API} ${c.version} (${packageOf(c.file, API)?.dir}): another major than otel-run's 1.x, whose providers it cannot see — its spans are not recorded; install ${API}@^1 for it`,
    );
  }
  usable.sort(compare);
  let best = usable[usable.length - 1];
  // Something wrote the registry before us (the app's diag.setLogger, another tool): only a copy of that
  // exact version can add to it now.
  const existing = (globalThis as Record<symbol, { version?: unknown } | undefined>)[API_GLOBAL]?.version;
  if (typeof existing === 'string' && best && best.version !== existing) {
    const same = usable.find((c) => c.version === existing);
    log.warn(
      `${API} ${existing} was set up before otel-run, but ${best.readers.join(', ')} ${best.readers.length > 1 ? 'read' : 'reads'} ${best.version}, which ignores a registration made by an older copy — ${same ? `registering through ${existing}; spans made through ${best.version} are lost` : 'registering anyway; some spans may be lost'}`,
    );
    if (same) best = same;
  }
  log.debug(
    `${API} copies: ${copies.map((c) => `${c.version} (${c.readers.join(', ')})`).join('; ')} — registering through ${best?.version ?? 'otel-run’s own'}`,
  );
  chosen = require(best?.file ?? own) as Api;
  return chosen;
}

/**
 * api 1.10 took the logs API in (`logs`, stored in the same registry object): instrumentations on
 * @opentelemetry/instrumentation 0.30x ask it for their logger, api-logs readers ask the separate api-logs
 * registry. The logger provider goes to both.
 */
export function registerLoggerProvider(provider: unknown): void {
  const logs = (chosenApi() as unknown as { logs?: { setGlobalLoggerProvider(p: unknown): unknown } }).logs;
  if (typeof logs?.setGlobalLoggerProvider === 'function') logs.setGlobalLoggerProvider(provider);
}

/**
 * Why an instrumentor failed, when its cause is the API copy it resolves: the 0.30x instrumentation base
 * reads `api.logs` in its constructor, and a layout that hoists a 1.9 copy beside it (yarn does not install
 * peer dependencies) gives it none. Undefined when that is not the cause.
 */
export function explainFailure(dir: string, err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'MODULE_NOT_FOUND' && message.includes(`'${API}'`))
    return `${API} cannot be resolved from ${realDir(dir)} (a peer dependency nobody installed: add ${API} to the app's dependencies)`;
  if (!/reading 'getLogger'/.test(message)) return undefined;
  const base = resolveFrom(INSTRUMENTATION, dir);
  const basePkg = base && packageOf(realDir(base), INSTRUMENTATION);
  const api = basePkg && resolveFrom(API, basePkg.dir);
  const apiPkg = api && packageOf(realDir(api), API);
  if (!basePkg || !apiPkg) return undefined;
  return `its ${INSTRUMENTATION} ${basePkg.version} needs ${API} >= 1.10 but resolves ${apiPkg.version} (${apiPkg.dir}; yarn installs no peer dependencies: add ${API}@^1.10 to the app's dependencies)`;
}
