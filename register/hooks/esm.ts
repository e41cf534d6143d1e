// ES module support. `import` never passes through require(), so under a `--require` preload alone an ES
// module app gets no library spans. When this process needs it (an ES module entry, a TypeScript runner, or
// OTEL_RUN_ESM=on), the preload registers import-in-the-middle's hooks itself, before the app's module
// graph loads, and limits them to the modules an enabled instrumentor targets: in-thread
// (module.registerHooks) where Node and the copy allow it, else a loader thread (module.register). A CommonJS
// process gets the in-thread hooks the first time it require()s an ES module. One copy's hooks are
// registered; every other copy the instrumentors resolve is served through it (`forward`). Nothing is added
// to NODE_OPTIONS: `--import` there kills every Node older than 18.18 that a script may start.
//
// Instrumentors still load lazily, at the first import of their target, through two triggers that call the
// same callbacks as the require hook (hooks/require-hook.ts `fire`):
// - Module._load (hooks/require-hook.ts), which Node calls for a CommonJS module imported from ESM *before*
//   it runs: the instrumentor's require hook is then in place for the package's own internal require()s.
// - import-in-the-middle's own hook, for builtins (`node:http`) and ES module packages, which never reach
//   Module._load. It runs after the target was evaluated, as import-in-the-middle hooks always do; the
//   hooks that the activation just added are applied to that same module here, since import-in-the-middle
//   neither visits hooks added while it calls them nor replays the module being registered.
import * as fs from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Planned } from '../discovery/plan';
import { findNearestPackage, readPackageJson } from '../util/package-json';
import * as log from '../util/stderr';
import {
  fire,
  hasPending,
  moduleNameOf,
  packageOfFile,
  restoreOnFatalError,
  whenEntryStarted,
  wrapDirectLoads,
} from './require-hook';

export type EsmMode = 'auto' | 'on' | 'off';

export interface EsmInput {
  mode: EsmMode;
  /** process.argv[1]. */
  entry: string | undefined;
  execArgv: readonly string[];
  nodeOptions: string | undefined;
}

export interface EsmNeed {
  /** Why the hooks are needed, for the debug line; undefined when they are not. */
  reason?: string;
  /** The command line already registers import-in-the-middle (the app's own OpenTelemetry setup). */
  userHook?: string;
}

type IitmHook = (url: string, namespace: unknown, specifier?: string, format?: string) => void;

interface IitmIndex {
  addHook(hook: IitmHook): void;
  createAddHookMessageChannel?: () => {
    registerOptions: { data?: { include?: unknown[] }; transferList?: unknown[] };
  };
}

type ModuleWithLoad = {
  register?: (specifier: string, parentURL: string, options: object) => void;
  registerHooks?: (hooks: object) => unknown;
};

// TypeScript runners given as a loader (`node --import tsx`, `--loader ts-node/esm`): their output is often
// ES modules whatever the entry's extension says.
const TS_RUNNER = /(?:^|[\\/@:])(?:tsx|ts-node|swc-node|esbuild-kit|esno|jiti)(?:[\\/@]|$)/;
const IITM_LOADER = /import-in-the-middle|@opentelemetry[\\/]instrumentation[\\/]hook\.mjs/;
// Launchers whose own process only spawns the real one: tsx's cli runs `node --import …loader.mjs app.ts`,
// and that child (where the preload runs again) gets the hooks.
const LAUNCHERS = [`${path.sep}tsx${path.sep}dist${path.sep}cli.mjs`];
// `import x from`, `import {`, `import * as`, `import 'side-effect'`, `export …`, `import.meta`: a line that
// starts like this is ES module syntax (Node >= 20.19 / 22.7 runs such a .js file as an ES module).
const ESM_SYNTAX = /^[ \t]*(?:import[ \t]*[\w*{'"$]|export[ \t]*[\w*{$])|\bimport\.meta\b/m;

function loaderValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const m = /^--(?:import|loader|experimental-loader)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const value = m[1] ?? args[i + 1];
    if (value !== undefined) out.push(value.replace(/^["']|["']$/g, ''));
  }
  return out;
}

/** The nearest package.json's "type" ("module", "commonjs") or undefined, as Node looks it up. */
export function packageType(file: string): string | undefined {
  const type = findNearestPackage(path.dirname(file), { stopAtNodeModules: true })?.json?.type;
  return typeof type === 'string' ? type : undefined;
}

function hasEsmSyntax(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buffer = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return ESM_SYNTAX.test(buffer.toString('utf8', 0, n));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function realEntry(entry: string): string | undefined {
  // argv[1] keeps what was typed: `node app` runs app.js, `node .` the folder's main. Node finds the file as
  // require.resolve does (then, for an ES module, by its extension or "type").
  try {
    return fs.realpathSync.native(require.resolve(path.resolve(entry)));
  } catch {}
  try {
    return fs.realpathSync.native(entry);
  } catch {
    return undefined;
  }
}

/** Whether this process needs ES module hooks, and why. Cheap: runs in every process the preload reaches. */
export function esmNeed(input: EsmInput): EsmNeed {
  if (input.mode === 'off') return {};
  const flags = [...(input.nodeOptions?.split(/\s+/).filter(Boolean) ?? []), ...input.execArgv];
  const loaders = loaderValues(flags);
  const userHook = loaders.find((l) => IITM_LOADER.test(l));
  const need = (reason: string): EsmNeed => (userHook ? { reason, userHook } : { reason });
  if (input.mode === 'on') return need('OTEL_RUN_ESM=on');
  const runner = loaders.find((l) => TS_RUNNER.test(l));
  if (runner) return need(`TypeScript runner (${runner})`);
  if (!input.entry) {
    return flags.includes('--input-type=module') ? need('--input-type=module') : {};
  }
  const file = realEntry(input.entry);
  if (!file || LAUNCHERS.some((l) => file.endsWith(l))) return {};
  const ext = path.extname(file);
  const name = path.basename(file);
  if (ext === '.mjs' || ext === '.mts') return need(`ES module entry ${name}`);
  if (ext === '.ts' || ext === '.tsx') return need(`TypeScript entry ${name}`);
  if (ext !== '.js' && ext !== '') return {};
  const type = packageType(file);
  if (type === 'module') return need(`ES module entry ${name} ("type": "module")`);
  if (type === undefined && hasEsmSyntax(file)) return need(`ES module syntax in ${name}`);
  return {};
}

function rootOfIitm(indexFile: string): string | undefined {
  const dir = path.dirname(indexFile);
  return fs.existsSync(path.join(dir, 'hook.mjs')) ? dir : undefined;
}

function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

/**
 * The import-in-the-middle copies an instrumentor can hook through: the one its @opentelemetry/instrumentation
 * resolves (every InstrumentationBase), and for a field-based instrumentor the one it resolves itself. Both
 * are looked up from the instrumentor's real folder, as Node resolves its requires: under pnpm the folder
 * in the app's node_modules is a link into the store, where its dependencies are its siblings.
 */
function iitmCopiesOf(p: Planned, cache: Map<string, string | undefined>): string[] {
  const req = createRequire(path.join(realDir(p.candidate.dir), 'package.json'));
  const out: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && !out.includes(dir)) out.push(dir);
  };
  try {
    // A resolved file is a real path already (Node follows links unless --preserve-symlinks).
    const base = req.resolve('@opentelemetry/instrumentation');
    if (!cache.has(base)) {
      let dir: string | undefined;
      try {
        dir = rootOfIitm(createRequire(base).resolve('import-in-the-middle'));
      } catch {}
      cache.set(base, dir);
    }
    add(cache.get(base));
  } catch {}
  if (p.candidate.manifest.source === 'field') {
    try {
      add(rootOfIitm(req.resolve('import-in-the-middle')));
    } catch {}
  }
  return out;
}

/** Each import-in-the-middle copy the enabled instrumentors resolve, with the names of those using it. */
export function iitmCopies(enabled: readonly Planned[]): Map<string, string[]> {
  const cache = new Map<string, string | undefined>();
  const copies = new Map<string, string[]>();
  for (const p of enabled) {
    for (const dir of iitmCopiesOf(p, cache)) {
      const users = copies.get(dir);
      if (users) users.push(p.name);
      else copies.set(dir, [p.name]);
    }
  }
  return copies;
}

function versionOf(dir: string): number[] {
  return String(readPackageJson(dir)?.version ?? '0')
    .split(/[.+-]/)
    .slice(0, 3)
    .map((n) => Number.parseInt(n, 10) || 0);
}

/**
 * The copy whose loader is registered: the newest (its loader knows the most module shapes), otel-run's own
 * on a tie. Every other copy is served through it (`forward`), so which one it is never leaves one out.
 */
export function loaderCopy(copies: Iterable<string>, own: string | undefined): string | undefined {
  let best: string | undefined;
  let bestVersion: number[] = [];
  const newer = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return false;
  };
  for (const dir of own ? [own, ...copies] : copies) {
    const v = versionOf(dir);
    if (best === undefined || newer(v, bestVersion)) {
      best = dir;
      bestVersion = v;
    }
  }
  return best;
}

function ownIitm(): string | undefined {
  try {
    return rootOfIitm(
      createRequire(require.resolve('@opentelemetry/instrumentation')).resolve('import-in-the-middle'),
    );
  } catch {
    return undefined;
  }
}

/** The module-level state of a copy's lib/register.js, which its Hook()s read and its loader's wrappers fill. */
interface IitmState {
  importHooks: IitmHook[];
  specifiers: Map<string, unknown>;
  toHook: unknown[][];
}

function stateOf(dir: string): IitmState {
  const s = require(path.join(dir, 'lib', 'register.js')) as Partial<IitmState>;
  if (!Array.isArray(s.importHooks) || !(s.specifiers instanceof Map) || !Array.isArray(s.toHook))
    throw new Error('its lib/register.js has no importHooks, specifiers and toHook to serve');
  return s as IitmState;
}

/**
 * A wrapper generated by one copy's loader calls that copy's lib/register.js only, and a Hook() from another
 * copy waits on its own file's list (there is no shared global), while a second registered loader never
 * sees a module the first one wraps. So one loader is registered and each module it reports is handed to
 * every other copy as that copy's own wrapper would: the specifier (its Hook()s check it), the replay list
 * (for Hook()s made later, by an instrumentor activated later), then each of its hooks.
 */
function forward(loader: IitmIndex, other: IitmState): void {
  loader.addHook((url, namespace, specifier, format) => {
    other.specifiers.set(url, specifier);
    other.toHook.push([url, namespace, specifier, format]);
    for (const hook of other.importHooks.slice()) hook(url, namespace, specifier, format);
  });
}

/**
 * A builtin's named ES exports are bindings Node made when the module graph was linked: a patch applied
 * since, through require (a CommonJS library required it first, so its instrumentor patched
 * `module.exports` and then skips the import to avoid patching twice), never reaches `import { get }`.
 * Copy what differs into the wrapper, as `module.syncBuiltinESMExports()` would for Node's own bindings.
 */
function syncBuiltin(namespace: unknown): void {
  const ns = namespace as Record<string, unknown>;
  // A builtin's default export is its module.exports (what require returns), read without a require hook.
  const real = ns.default;
  if (!real || (typeof real !== 'object' && typeof real !== 'function')) return;
  for (const key of Object.keys(real)) {
    if (key === 'default' || !(key in ns)) continue;
    // Data properties only: a getter may be a deprecated one that warns when read (fs.F_OK on newer Nodes).
    const d = Object.getOwnPropertyDescriptor(real, key);
    if (d && 'value' in d && ns[key] !== d.value) ns[key] = d.value;
  }
}

function installImportTrigger(iitm: IitmIndex, importHooks: IitmHook[]): void {
  iitm.addHook((url, namespace, specifier, format) => {
    // An import by path (`import '/app/node_modules/pg/lib/index.js'`) counts for its package.
    const name =
      moduleNameOf(specifier ?? url) ??
      (url.startsWith('file:') ? packageOfFile(fileURLToPath(url)) : undefined);
    if (name === undefined) return;
    try {
      if (hasPending(name)) {
        const before = importHooks.length;
        fire(name);
        for (const hook of importHooks.slice(before)) hook(url, namespace, specifier, format);
      }
      if (url.startsWith('node:')) syncBuiltin(namespace);
    } catch (err) {
      log.warn(`instrumenting ${name}: ${log.reason(err)} — it may be untraced`);
    }
  });
}

/**
 * Node 26 deprecates module.register at run time (DEP0205, in favour of module.registerHooks): the warning
 * would land on the app's stderr, and throw under --throw-deprecation. It is about our call, not the app's.
 */
function quietly(fn: () => void): void {
  const p = process as { noDeprecation?: boolean };
  const before = p.noDeprecation;
  p.noDeprecation = true;
  try {
    fn();
  } finally {
    p.noDeprecation = before;
  }
}

export interface EsmSetup {
  /** The lazy import trigger could not be set: activate every enabled instrumentor at start instead. */
  eager: boolean;
}

/**
 * Registers the ES module hooks when this process needs them. Must run before the instrumentors are armed
 * (an instrumentor activated at start sends its import-in-the-middle hooks to the loader as it is built).
 * A process that does not need them at start, on a Node with in-thread hooks, gets them the first time it
 * requires an ES module (`armOnFirstRequiredEsm`).
 */
export function setUpEsm(planned: readonly Planned[], mode: EsmMode): EsmSetup {
  const need = esmNeed({
    mode,
    entry: process.argv[1],
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS,
  });
  const enabled = planned.filter((p) => p.status === 'enabled');
  const include = [...new Set(enabled.flatMap((p) => p.targets.filter((t) => t.ok).map((t) => t.module)))];
  // Field-based instrumentors without declared targets are built at start and may Hook() anything; the catalog's
  // target-less rows (runtime-node, host-metrics, …) and channel-based ones (undici for fetch) wrap no module.
  const hooksAtStart = enabled.some((p) => p.targets.length === 0 && p.candidate.manifest.source === 'field');
  const Module = require('node:module') as ModuleWithLoad;
  if (!need.reason) {
    if (mode === 'auto' && include.length > 0 && !need.userHook)
      armOnFirstRequiredEsm(Module, enabled, include);
    return { eager: false };
  }
  if (typeof Module.register !== 'function') {
    log.warn(
      `ES module hooks: Node ${process.versions.node} cannot register loader hooks (module.register) — imports in this ES module app are not traced, require() calls still are`,
    );
    return { eager: false };
  }
  if (enabled.length === 0) {
    log.debug(`ES module hooks: not needed (${need.reason}): no instrumentor is enabled`);
    return { eager: false };
  }
  if (include.length === 0 && !hooksAtStart) {
    log.debug(`ES module hooks: not registered (${need.reason}): no enabled instrumentor targets a module`);
    return { eager: false };
  }
  if (need.userHook) {
    // That loader may come from another copy, whose wrappers never call our trigger: activate at start.
    log.debug(`ES module hooks: the command line already registers ${need.userHook}; otel-run adds none`);
    return { eager: true };
  }
  return registerEsmHooks(Module, enabled, include, need.reason);
}

/**
 * require(esm) (unflagged since Node 20.19 and 22.12) loads an ES module graph from a CommonJS process that
 * had no reason for hooks at start. Node compiles such a file through Module.prototype._compile with the
 * format "module" before it links the graph, so in-thread hooks (module.registerHooks) registered there
 * see every import of that graph. A loader thread (module.register, Node 20) never sees a graph loaded
 * through require(), and the graph is cached for later import()s: registering one there would cost its
 * thread for nothing, so on Node 20 such a graph stays unhooked (its CommonJS libraries still are traced
 * where they are also required).
 */
function armOnFirstRequiredEsm(Module: ModuleWithLoad, enabled: readonly Planned[], include: string[]): void {
  if (typeof Module.registerHooks !== 'function') return;
  const proto = (Module as unknown as { prototype: { _compile?: (...args: unknown[]) => unknown } })
    .prototype;
  // After the entry started, as the require hook's Module._load wrapper (require-hook.ts says why).
  whenEntryStarted(() => {
    const original = proto._compile;
    if (typeof original !== 'function') return;
    let done = false;
    const wrapper = function _compile(this: unknown, content: unknown, filename: unknown, format: unknown) {
      if (
        !done &&
        format === 'module' &&
        (typeof content !== 'string' ||
          typeof filename !== 'string' ||
          mayImportTargets(content, filename, include))
      ) {
        done = true;
        // Later compiles skip even this test (unless another hook wrapped ours meanwhile).
        if (proto._compile === _compile) proto._compile = original;
        const name = typeof filename === 'string' ? filename : 'an ES module';
        try {
          registerEsmHooks(Module, enabled, include, `${name} loaded by require()`, true);
        } catch (err) {
          log.warn(
            `ES module hooks: registering them for ${name}: ${log.reason(err)} — its imports are not traced`,
          );
        }
      }
      // biome-ignore lint/complexity/noArguments: _compile's arity must be passed through unchanged
      return original.apply(this, arguments as unknown as unknown[]);
    };
    proto._compile = wrapper;
    restoreOnFatalError(proto, '_compile', wrapper, original);
  });
}

// Every static import names its module after `from` or right after `import`; any `import(` counts as unknown.
// Matches inside strings or comments only add specifiers, which can only make the answer "may".
const IMPORTS = /\bfrom\s*['"]([^'"\n]+)['"]|\bimport\s*['"]([^'"\n]+)['"]|\bimport\s*\(/g;

/**
 * Whether a require()d ES module's graph may reach a target, read from its source alone: many CommonJS
 * packages now ship a tiny ES module for require() (get-intrinsic's `async-function/require.mjs`, in most
 * express apps, imports only its own CommonJS `./index.js`), and registering the hooks for those would make
 * nearly every app pay for them. Anything not plainly harmless counts: a package name (it may import a target
 * in turn), an `import()`, an ES module file, a path that cannot be checked.
 */
export function mayImportTargets(source: string, file: string, targets: readonly string[]): boolean {
  for (const m of source.matchAll(IMPORTS)) {
    const specifier = m[1] ?? m[2];
    if (specifier === undefined) return true;
    if (isBuiltin(specifier)) {
      if (targets.includes(moduleNameOf(specifier) ?? specifier)) return true;
      continue;
    }
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) return true;
    const target = path.resolve(path.dirname(file), specifier);
    const ext = path.extname(target);
    if (ext === '.cjs' || ext === '.json' || ext === '.node') continue;
    if (ext !== '.js') return true;
    // Node >= 22.7 runs a .js without a "type" as an ES module when its syntax says so.
    const type = packageType(target);
    if (type === 'module' || (type === undefined && hasEsmSyntax(target))) return true;
  }
  return false;
}

/** In-thread hooks where this Node and the copy have them (import-in-the-middle's supportsSyncHooks). */
function registerInThread(Module: ModuleWithLoad, dir: string, options: object): boolean {
  if (typeof Module.registerHooks !== 'function') return false;
  const file = path.join(dir, 'register-hooks.mjs');
  if (!fs.existsSync(file)) return false;
  // require() of an ES module: there since Node 22.12, and registerHooks needs 22.15 anyway.
  const sync = require(file) as { register?: (o: object) => void; supportsSyncHooks?: () => boolean };
  if (typeof sync.register !== 'function' || sync.supportsSyncHooks?.() !== true) return false;
  sync.register(options);
  return true;
}

function registerEsmHooks(
  Module: ModuleWithLoad,
  enabled: readonly Planned[],
  include: string[],
  reason: string,
  inThreadOnly = false,
): EsmSetup {
  // ES modules import CommonJS through Module._load, from the first import on.
  wrapDirectLoads();
  const copies = iitmCopies(enabled);
  // Instrumentors that patch exports without import-in-the-middle still need its loader for builtins and ES
  // module targets (the import trigger): otel-run's own copy then.
  const own = ownIitm();
  const dir = loaderCopy(copies.keys(), own);
  if (!dir) {
    log.warn(
      `ES module hooks: import-in-the-middle was not found — imports in this ES module app are not traced, require() calls still are`,
    );
    return { eager: false };
  }
  let how: string;
  let iitm: IitmIndex;
  let importHooks: IitmHook[] | undefined;
  try {
    iitm = require(dir) as IitmIndex;
    try {
      importHooks = stateOf(dir).importHooks;
    } catch {}
    const channel = iitm.createAddHookMessageChannel?.();
    const options = channel?.registerOptions ?? {};
    // Only the targets are wrapped; Hook()s of instrumentors built at start add theirs through the channel
    // (a MessagePort works within one thread too).
    options.data = { ...options.data, include: [...include] };
    if (registerInThread(Module, dir, options.data)) how = 'in-thread (module.registerHooks)';
    else if (inThreadOnly) {
      log.debug(
        `ES module hooks: not registered for ${reason}: import-in-the-middle from ${dir} has no in-thread hooks here`,
      );
      return { eager: false };
    } else {
      quietly(() =>
        Module.register?.(
          pathToFileURL(path.join(dir, 'hook.mjs')).href,
          pathToFileURL(__filename).href,
          options,
        ),
      );
      how = 'loader thread (module.register)';
    }
  } catch (err) {
    log.warn(
      `ES module hooks: registering import-in-the-middle from ${dir} failed: ${log.reason(err)} — imports are not traced, require() calls still are`,
    );
    return { eager: false };
  }
  // A copy too old to expose its hook list: no lazy trigger, every enabled instrumentor is built at start.
  if (!importHooks) return { eager: true };
  // The trigger first: it builds the instrumentors whose hooks the forwarders below then run.
  installImportTrigger(iitm, importHooks);
  for (const [other, users] of copies) {
    if (other === dir) continue;
    try {
      forward(iitm, stateOf(other));
    } catch (err) {
      // One line per copy, naming who is left out and what would fix it.
      log.warn(
        `ES module hooks: instrumentor${users.length > 1 ? 's' : ''} ${users.join(', ')} use${users.length > 1 ? '' : 's'} import-in-the-middle from ${other}, which otel-run cannot serve (${log.reason(err)}) — ${users.length > 1 ? 'their' : 'its'} ES module imports are not traced, require() calls still are; install a release that uses import-in-the-middle 1.x or later, or dedupe it`,
      );
    }
  }
  log.debug(
    `ES module hooks: import-in-the-middle from ${dir}, ${how}, for ${include.join(', ') || '(no declared target)'} (${reason})${copies.size > 1 ? `; also serving ${[...copies.keys()].filter((d) => d !== dir).join(', ')}` : ''}`,
  );
  return { eager: false };
}
