// One require hook for all instrumentors: it runs the callback registered for a module name the first time
// that module is required, *before* the require proceeds. That is what lets otel-run load an instrumentor
// only when its library is actually used, and still patch the library's first load: the instrumentor's own
// require-in-the-middle hook is installed by the callback, then the require is dispatched again through
// Module.prototype.require, which now includes that hook.
import { isBuiltin } from 'node:module';

type OnFirstRequire = (parentFile: string | undefined) => void;

const pending = new Map<string, OnFirstRequire[]>();
let installed = false;

/** `express/lib/router` → `express`, `@scope/pkg/x` → `@scope/pkg`, `node:fs/promises` → `fs/promises`. */
export function moduleNameOf(id: string): string | undefined {
  const c = id.charCodeAt(0);
  // '.' and '/': relative and absolute paths never name a package.
  if (c === 46 || c === 47) return undefined;
  if (id.startsWith('node:')) return id.slice(5);
  if (isBuiltin(id)) return id;
  const slash = id.indexOf('/');
  if (slash === -1) return id;
  if (c === 64 /* @ */) {
    const second = id.indexOf('/', slash + 1);
    return second === -1 ? id : id.slice(0, second);
  }
  return id.slice(0, slash);
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

function install(): void {
  if (installed) return;
  installed = true;
  const Module = require('node:module') as { prototype: { require: (id: string) => unknown } };
  const original = Module.prototype.require;
  // Names whose require is being re-dispatched through hooks installed meanwhile: those hooks call this one
  // again, which must then just proceed — firing again (a callback may re-arm its own name) would recurse.
  const dispatching = new Set<string>();
  const hook = function otelRunRequire(this: { filename?: string }, id: string) {
    if (pending.size !== 0 && typeof id === 'string') {
      const name = moduleNameOf(id);
      if (name !== undefined && pending.has(name) && !dispatching.has(name)) {
        const before = Module.prototype.require;
        fire(name, this?.filename);
        const current = Module.prototype.require;
        // Only when a callback installed a hook (an instrumentation's require-in-the-middle): dispatching
        // through hooks that were already there would run them twice for one require.
        if (current !== before) {
          dispatching.add(name);
          try {
            // biome-ignore lint/complexity/noArguments: require's arity must be passed through unchanged
            return current.apply(this, arguments as unknown as [string]);
          } finally {
            dispatching.delete(name);
          }
        }
      }
    }
    // biome-ignore lint/complexity/noArguments: as above
    return original.apply(this, arguments as unknown as [string]);
  };
  Module.prototype.require = hook;
}
