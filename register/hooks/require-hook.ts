// One require hook for all instrumentors: it runs the callback registered for a module name the first time
// that module is loaded, *before* the load proceeds. That is what lets otel-run load an instrumentor only
// when its library is actually used, and still patch the library's first load: the instrumentor's own
// require-in-the-middle hook is installed by the callback, then the load is dispatched again through the
// function that hook just replaced, which now includes it.
//
// It must see every load path require-in-the-middle sees, or an instrumentor that would have patched a load
// is never built (test/load-paths.test.ts compares the two surfaces):
// - Module.prototype.require: require(), createRequire() functions, `node:` ids, and ids given as a path
//   (`require(require.resolve('pg'))`, `require('./node_modules/pg')`), which are matched, as
//   require-in-the-middle does, on the package of the resolved file (the folder after the last node_modules);
// - process.getBuiltinModule (Node >= 20.16, 22.3), which require-in-the-middle wraps since 7.4;
// - Module._load called directly (an ES module importing CommonJS, require(esm) graphs on Node 20):
//   require-in-the-middle never sees those, but the instrumentor built here then patches the package's own
//   internal requires. That wrapper goes in at the first require() or getBuiltinModule() call, when ES
//   module hooks are registered, or on the first tick (before any import() can reach CommonJS: Node drains
//   the tick queue before promise jobs), not at start: a CommonJS entry is itself loaded through
//   Module._load, and a wrapper in place then would stand in every stack trace the app's top-level code
//   prints (an uncaught error's trace must read as it does without otel-run). V8 names a stack frame from the
//   property that holds its function when the trace is printed, so a wrapper still in place at that moment
//   renames Node's own frames (`Function.<anonymous>` for `Function._load`, Node 22): on a fatal error, just
//   before Node prints it, every wrapper is put back (restoreOnFatalError).
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { listenHidden } from '../exit/hidden';
import * as log from '../util/stderr';

type OnFirstRequire = (parentFile: string | undefined) => void;

type Loader = (this: unknown, ...args: unknown[]) => unknown;

interface ModuleInternals {
  prototype: { require: Loader };
  _load: Loader;
  _resolveFilename: (request: string, parent: unknown) => string;
}

const pending = new Map<string, OnFirstRequire[]>();
let installed = false;

/** `express/lib/router` → `express`, `@scope/pkg/x` → `@scope/pkg`, `node:fs/promises` → `fs/promises`. */
export function moduleNameOf(id: string): string | undefined {
  if (isPathLike(id)) return undefined;
  if (id.startsWith('node:')) return id.slice(5);
  if (isBuiltin(id)) return id;
  const slash = id.indexOf('/');
  if (slash === -1) return id;
  if (id.charCodeAt(0) === 64 /* @ */) {
    const second = id.indexOf('/', slash + 1);
    return second === -1 ? id : id.slice(0, second);
  }
  return id.slice(0, slash);
}

/** Ids that name a file, not a package: `./x`, `../x`, `/abs`, `C:\abs`, `\\server\share`, `#imports`. */
function isPathLike(id: string): boolean {
  const c = id.charCodeAt(0);
  // '.', '/', '\\', '#'
  if (c === 46 || c === 47 || c === 92 || c === 35) return true;
  return id.length > 2 && id.charCodeAt(1) === 58 /* : */ && (id[2] === '\\' || id[2] === '/');
}

/** `/a/node_modules/@s/p/lib/x.js` → `@s/p`; the last node_modules wins (pnpm's .pnpm store included). */
export function packageOfFile(file: string): string | undefined {
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = file.lastIndexOf(marker);
  if (at === -1) return undefined;
  const parts = file.slice(at + marker.length).split(path.sep);
  const first = parts[0];
  if (!first) return undefined;
  if (first.startsWith('@')) return parts[1] ? `${first}/${parts[1]}` : undefined;
  return first;
}

export function onFirstRequire(moduleName: string, fn: OnFirstRequire): void {
  const list = pending.get(moduleName);
  if (list) list.push(fn);
  else pending.set(moduleName, [fn]);
  install();
}

export function hasPending(moduleName: string): boolean {
  return pending.has(moduleName);
}

/** Runs (and forgets) the callbacks for a module now, e.g. for an ES module import that never hits require. */
export function fire(moduleName: string, parentFile?: string): void {
  const list = pending.get(moduleName);
  if (!list) return;
  pending.delete(moduleName);
  for (const fn of list) fn(parentFile);
}

// Names whose load is being re-dispatched through hooks installed meanwhile: those hooks call ours again,
// which must then just proceed — firing again (a callback may re-arm its own name) would recurse.
const dispatching = new Set<string>();

/**
 * Fires `name` and, when a callback replaced the loader (an instrumentation's require-in-the-middle wrapped
 * it), loads through the replacement; undefined when the original should proceed. Only then: dispatching
 * through hooks that were already there would run them twice for one load.
 */
function fireAndRedispatch(
  name: string,
  parentFile: string | undefined,
  read: () => Loader,
  self: unknown,
  args: unknown[],
): { value: unknown } | undefined {
  const before = read();
  fire(name, parentFile);
  const current = read();
  if (current === before) return undefined;
  dispatching.add(name);
  try {
    return { value: current.apply(self, args) };
  } finally {
    dispatching.delete(name);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  const Module = require('node:module') as unknown as ModuleInternals;
  process.nextTick(wrapDirectLoads);

  // The package a require() id loads, or undefined when nothing is waiting for it.
  const waitingFor = (id: unknown, parent: unknown): string | undefined => {
    if (pending.size === 0 || typeof id !== 'string') return undefined;
    let name = moduleNameOf(id);
    if (name === undefined) {
      let file: string;
      try {
        // Node caches the answer (Module._pathCache), so the load that follows resolves it for free.
        file = Module._resolveFilename(id, parent);
      } catch {
        return undefined;
      }
      name = isBuiltin(file) ? moduleNameOf(file) : packageOfFile(file);
    }
    return name !== undefined && pending.has(name) && !dispatching.has(name) ? name : undefined;
  };

  const originalRequire = Module.prototype.require;
  const otelRunRequire = function otelRunRequire(this: unknown, id: unknown) {
    if (!loadWrapped) wrapDirectLoads();
    const name = waitingFor(id, this);
    if (name !== undefined) {
      const done = fireAndRedispatch(
        name,
        (this as { filename?: string } | undefined)?.filename,
        () => Module.prototype.require,
        this,
        // biome-ignore lint/complexity/noArguments: require's arity must be passed through unchanged
        Array.from(arguments),
      );
      if (done) return done.value;
    }
    // biome-ignore lint/complexity/noArguments: as above
    return originalRequire.apply(this, arguments as unknown as unknown[]);
  };
  Module.prototype.require = otelRunRequire;
  restoreOnFatalError(Module.prototype, 'require', otelRunRequire, originalRequire);

  const proc = process as unknown as { getBuiltinModule?: Loader };
  const originalGetBuiltin = proc.getBuiltinModule;
  if (typeof originalGetBuiltin === 'function') {
    proc.getBuiltinModule = function getBuiltinModule(this: unknown, id: unknown) {
      if (!loadWrapped) wrapDirectLoads();
      if (pending.size !== 0 && typeof id === 'string' && isBuiltin(id)) {
        const name = moduleNameOf(id);
        if (name !== undefined && pending.has(name) && !dispatching.has(name)) {
          const done = fireAndRedispatch(
            name,
            undefined,
            () => proc.getBuiltinModule as Loader,
            this,
            // biome-ignore lint/complexity/noArguments: passed through unchanged
            Array.from(arguments),
          );
          if (done) return done.value;
        }
      }
      // biome-ignore lint/complexity/noArguments: as above
      return originalGetBuiltin.apply(this, arguments as unknown as unknown[]);
    };
  }
}

const restorers: Array<() => void> = [];

/**
 * Puts `original` back as `owner[key]` when an uncaught error is about to end the process (the
 * uncaughtExceptionMonitor event comes before Node prints the error), if our wrapper is still there.
 */
export function restoreOnFatalError<T extends object>(
  owner: T,
  key: keyof T,
  wrapper: unknown,
  original: unknown,
): void {
  if (restorers.length === 0)
    listenHidden('uncaughtExceptionMonitor', () => {
      for (const restore of restorers.splice(0)) restore();
    });
  restorers.push(() => {
    if (owner[key] === wrapper) owner[key] = original as T[keyof T];
  });
}

let loadWrapped = false;
const afterEntryStarted: Array<() => void> = [];

/** Runs `fn` once the entry module has started (see the header): at once if it has. */
export function whenEntryStarted(fn: () => void): void {
  if (loadWrapped) fn();
  else afterEntryStarted.push(fn);
}

/** Wraps Module._load (see the header for why not at start); once. */
export function wrapDirectLoads(): void {
  if (loadWrapped) return;
  loadWrapped = true;
  const Module = require('node:module') as unknown as ModuleInternals;
  const originalLoad = Module._load;
  for (const fn of afterEntryStarted.splice(0)) {
    try {
      fn();
    } catch (err) {
      log.debug(`after the entry started: ${log.reason(err)}`);
    }
  }
  const otelRunLoad = function otelRunLoad(this: unknown, request: unknown, parent: unknown) {
    // Only absolute paths: a require() reached Module.prototype.require first, with the id as written; what
    // arrives here as an absolute path without it is an entry, a preload or an ES module's import of CommonJS.
    if (pending.size !== 0 && typeof request === 'string' && path.isAbsolute(request)) {
      const name = packageOfFile(request);
      if (name !== undefined && pending.has(name) && !dispatching.has(name)) {
        const before = Module.prototype.require;
        try {
          fire(name, (parent as { filename?: string } | undefined)?.filename);
        } catch (err) {
          // A failing callback must not fail a load the app did not make through require.
          log.warn(`instrumenting ${name}: ${log.reason(err)} — it may be untraced`);
        }
        // biome-ignore lint/complexity/noArguments: _load's arity must be passed through unchanged
        const exports = originalLoad.apply(this, arguments as unknown as unknown[]);
        if (Module.prototype.require === before) return exports;
        // The hook just installed (require-in-the-middle) never saw this load, which did not go through
        // require(): an ES module's import of CommonJS, which import-in-the-middle sees only when its loader
        // is registered and require(esm) on Node 20 hides from it. Require the now cached file once through
        // the hook so it patches the exports this load returned (instrumentations patch them in place).
        dispatching.add(name);
        try {
          const holder = (parent as { require?: unknown } | undefined)?.require ? parent : module;
          Module.prototype.require.call(holder, request);
        } catch {
        } finally {
          dispatching.delete(name);
        }
        return exports;
      }
    }
    // biome-ignore lint/complexity/noArguments: as above
    return originalLoad.apply(this, arguments as unknown as unknown[]);
  };
  Module._load = otelRunLoad;
  restoreOnFatalError(Module, '_load', otelRunLoad, originalLoad);
}
