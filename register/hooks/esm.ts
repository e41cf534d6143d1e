// ES module support. `import` never passes through require(), so under a `--require` preload alone an ES
// module app gets no library spans. When this process needs it (an ES module entry, a TypeScript runner, or
// OTEL_RUN_ESM=on), the preload registers import-in-the-middle's loader itself, before the app's module
// graph loads, and limits it to the modules an enabled instrumentor targets. Nothing is added to
// NODE_OPTIONS: `--import` there kills every Node older than 18.18 that a script may start.
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
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Planned } from '../discovery/plan';
import * as log from '../util/stderr';
import { fire, hasPending, moduleNameOf, packageOfFile } from './require-hook';

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
  let dir = path.dirname(file);
  for (;;) {
    if (path.basename(dir) === 'node_modules') return undefined;
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {}
    if (text !== undefined) {
      try {
        const type = (JSON.parse(text) as { type?: unknown }).type;
        return typeof type === 'string' ? type : undefined;
      } catch {
        return undefined;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
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

/**
 * The import-in-the-middle copies an instrumentor can hook through: the one its @opentelemetry/instrumentation
 * resolves (every InstrumentationBase), and for a field-based instrumentor the one it resolves itself.
 */
function iitmCopiesOf(p: Planned, cache: Map<string, string | undefined>): string[] {
  const req = createRequire(path.join(p.candidate.dir, 'package.json'));
  const out: string[] = [];
  const add = (dir: string | undefined) => {
    if (dir && !out.includes(dir)) out.push(dir);
  };
  try {
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

/** The copy most enabled instrumentors resolve: a hook from one copy never fires for another's loader. */
export function chooseIitm(enabled: readonly Planned[]): { dir?: string; strays: Map<string, string> } {
  const cache = new Map<string, string | undefined>();
  const copies = new Map<Planned, string[]>();
  const votes = new Map<string, number>();
  for (const p of enabled) {
    const c = iitmCopiesOf(p, cache);
    copies.set(p, c);
    for (const dir of c) votes.set(dir, (votes.get(dir) ?? 0) + 1);
  }
  let dir: string | undefined;
  for (const [d, n] of votes) if (dir === undefined || n > (votes.get(dir) ?? 0)) dir = d;
  const strays = new Map<string, string>();
  for (const [p, c] of copies) {
    const first = c[0];
    if (first !== undefined && dir !== undefined && !c.includes(dir)) strays.set(p.name, first);
  }
  return { dir, strays };
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
 */
export function setUpEsm(planned: readonly Planned[], mode: EsmMode): EsmSetup {
  const need = esmNeed({
    mode,
    entry: process.argv[1],
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS,
  });
  if (!need.reason) return { eager: false };
  const Module = require('node:module') as ModuleWithLoad;
  if (typeof Module.register !== 'function') {
    log.warn(
      `ES module hooks: Node ${process.versions.node} cannot register loader hooks (module.register) — imports in this ES module app are not traced, require() calls still are`,
    );
    return { eager: false };
  }

  const enabled = planned.filter((p) => p.status === 'enabled');
  const include = [...new Set(enabled.flatMap((p) => p.targets.filter((t) => t.ok).map((t) => t.module)))];
  if (enabled.length === 0) {
    log.debug(`ES module hooks: not needed (${need.reason}): no instrumentor is enabled`);
    return { eager: false };
  }
  // Field-based instrumentors without declared targets are built at start and may Hook() anything; the catalog's
  // target-less rows (runtime-node, host-metrics, …) and channel-based ones (undici for fetch) wrap no module.
  const hooksAtStart = enabled.some((p) => p.targets.length === 0 && p.candidate.manifest.source === 'field');
  if (include.length === 0 && !hooksAtStart) {
    log.debug(`ES module hooks: not registered (${need.reason}): no enabled instrumentor targets a module`);
    return { eager: false };
  }
  if (need.userHook) {
    // That loader may come from another copy, whose wrappers never call our trigger: activate at start.
    log.debug(`ES module hooks: the command line already registers ${need.userHook}; otel-run adds none`);
    return { eager: true };
  }
  const chosen = chooseIitm(enabled);
  const strays = chosen.strays;
  // Instrumentors that patch exports without import-in-the-middle still need its loader for builtins and ES
  // module targets (the import trigger): otel-run's own copy then.
  const dir = chosen.dir ?? ownIitm();
  if (!dir) {
    log.warn(
      `ES module hooks: import-in-the-middle was not found — imports in this ES module app are not traced, require() calls still are`,
    );
    return { eager: false };
  }
  for (const [name, other] of strays) {
    log.warn(
      `ES module hooks: instrumentor ${name} uses another copy of import-in-the-middle (${other}) than the loader (${dir}) — its ES module imports are not traced, require() calls still are`,
    );
  }
  try {
    const iitm = require(dir) as IitmIndex;
    const shared = require(path.join(dir, 'lib', 'register.js')) as { importHooks?: unknown };
    const importHooks = Array.isArray(shared.importHooks) ? (shared.importHooks as IitmHook[]) : undefined;
    const channel = iitm.createAddHookMessageChannel?.();
    const options = channel?.registerOptions ?? {};
    // Only the targets are wrapped; Hook()s of instrumentors built at start add theirs through the channel.
    options.data = { ...options.data, include: [...include] };
    quietly(() =>
      Module.register?.(
        pathToFileURL(path.join(dir, 'hook.mjs')).href,
        pathToFileURL(__filename).href,
        options,
      ),
    );
    if (importHooks) installImportTrigger(iitm, importHooks);
    log.debug(
      `ES module hooks: import-in-the-middle from ${dir} for ${include.join(', ') || '(no declared target)'} (${need.reason})`,
    );
    return { eager: !importHooks };
  } catch (err) {
    log.warn(
      `ES module hooks: registering import-in-the-middle from ${dir} failed: ${log.reason(err)} — imports are not traced, require() calls still are`,
    );
    return { eager: false };
  }
}
