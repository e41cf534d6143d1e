// The self-check: a library the app loaded that its enabled instrumentor did not patch gets one line naming
// both and the likely cause, once per library. It runs off the hot path: on an unref'd setImmediate after
// the preload (the app's top-level code has run by then) and after each activation (the target's load that
// triggered it has finished by then), one scan of require.cache per turn at most.
import * as fs from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import * as path from 'node:path';
import type { Planned } from '../discovery/plan';
import { readPackageJson } from '../util/package-json';
import * as log from '../util/stderr';
import { packageOfFile } from './require-hook';

/** What an activation made: InstrumentationBase instances among them can say what they patched. */
interface ModuleDefinition {
  name?: unknown;
  moduleExports?: unknown;
  moduleVersion?: unknown;
  files?: unknown;
}

/**
 * Whether the instrumentation's hook saw the package load: it records the version of any file of the package it
 * is shown, the exports of a main module it patches, and those of each internal file it patches (some
 * instrumentations, mongodb's, patch files only).
 */
function sawLoad(d: ModuleDefinition): boolean {
  if (d.moduleExports !== undefined || d.moduleVersion !== undefined) return true;
  return (
    Array.isArray(d.files) &&
    d.files.some((f) => (f as { moduleExports?: unknown } | null)?.moduleExports !== undefined)
  );
}

interface Activated {
  planned: Planned;
  made: readonly unknown[];
}

export interface SelfCheck {
  activated(planned: Planned, made: readonly unknown[]): void;
}

function definitionsOf(instrumentation: unknown): ModuleDefinition[] | undefined {
  // `_modules`, the definitions its hooks fill: getModuleDefinitions() would run init() and build new ones.
  const defs = (instrumentation as { _modules?: unknown } | null)?._modules;
  if (!Array.isArray(defs)) return undefined;
  return defs.filter((d): d is ModuleDefinition => !!d && typeof d === 'object');
}

/** The packages loaded through CommonJS (the app's own and those an ES module imported), by name. */
function loadedPackages(): Set<string> {
  const out = new Set<string>();
  for (const file of Object.keys(require.cache)) {
    const name = packageOfFile(file);
    if (name !== undefined) out.add(name);
  }
  return out;
}

/** The lines for what is loaded and unpatched now; `reported` keeps each library to one line per process. */
export function findUnpatched(
  enabled: readonly Planned[],
  activated: ReadonlyMap<string, Activated>,
  loaded: ReadonlySet<string>,
  reported: Set<string>,
): string[] {
  const lines: string[] = [];
  for (const p of enabled) {
    const who = `instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version})`;
    for (const t of p.targets) {
      const lib = t.module;
      // Builtins are always "loaded"; an ES module package never enters require.cache: neither can be told.
      if (!t.ok || isBuiltin(lib) || reported.has(lib) || !loaded.has(lib)) continue;
      const a = activated.get(p.name);
      if (!a) {
        if (p.status !== 'enabled') continue;
        reported.add(lib);
        lines.push(
          `${lib} is not traced: it was loaded before otel-run's preload could see it, so ${who} never ran — load otel-run's preload first (before any other --require or --import that loads ${lib})`,
        );
        continue;
      }
      // Only InstrumentationBase instances say what their hooks saw.
      const defs = a.made.flatMap((m) => definitionsOf(m) ?? []).filter((d) => d.name === lib);
      if (defs.length === 0 || defs.some(sawLoad)) continue;
      reported.add(lib);
      lines.push(
        `${lib} is not traced: ${who} is on but its hook never saw ${lib} load (loaded before the instrumentor was enabled, or by a path its require/import hooks do not cover) — run with OTEL_LOG_LEVEL=debug to see how ${lib} was loaded`,
      );
    }
  }
  return lines;
}

type ApiCopy = {
  VERSION?: unknown;
  trace?: { getTracerProvider?: () => { getDelegate?: () => unknown } | undefined };
};

/**
 * The @opentelemetry/api copies an instrumentor reads, loaded already (its own and its
 * @opentelemetry/instrumentation's, resolved from their real folders as Node resolves them).
 */
function apiCopiesOf(p: Planned): Map<string, ApiCopy> {
  const out = new Map<string, ApiCopy>();
  const look = (from: string) => {
    try {
      const file = createRequire(from).resolve('@opentelemetry/api');
      const loaded = require.cache[file]?.exports as ApiCopy | undefined;
      if (loaded && !out.has(file)) out.set(file, loaded);
    } catch {}
  };
  let dir: string;
  try {
    dir = fs.realpathSync(p.candidate.dir);
  } catch {
    return out;
  }
  look(path.join(dir, 'package.json'));
  try {
    look(createRequire(path.join(dir, 'package.json')).resolve('@opentelemetry/instrumentation'));
  } catch {}
  return out;
}

/**
 * An api copy accepts the global registration only from the same major and an equal or newer minor: an
 * older copy's registration leaves a newer reader with no-op providers and context (no parent spans).
 */
function unreachedApi(p: Planned): { file: string; version: string } | undefined {
  for (const [file, api] of apiCopiesOf(p)) {
    let provider: unknown;
    try {
      const tp = api.trace?.getTracerProvider?.();
      provider = typeof tp?.getDelegate === 'function' ? tp.getDelegate() : tp;
    } catch {
      continue;
    }
    const name = (provider as { constructor?: { name?: string } } | undefined)?.constructor?.name;
    if (name === 'NoopTracerProvider')
      return { file, version: versionOfFile(file) ?? String(api.VERSION ?? '?') };
  }
  return undefined;
}

/** The version of the package a file belongs to (the folder after the last node_modules). */
function versionOfFile(file: string): string | undefined {
  const name = packageOfFile(file);
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = file.lastIndexOf(marker);
  if (name === undefined || at === -1) return undefined;
  const version = readPackageJson(file.slice(0, at + marker.length + name.length))?.version;
  return typeof version === 'string' ? version : undefined;
}

function globalApiVersion(): string {
  const g = (globalThis as Record<symbol, { version?: unknown } | undefined>)[
    Symbol.for('opentelemetry.js.api.1')
  ];
  return String(g?.version ?? 'none');
}

export function startSelfCheck(planned: readonly Planned[], tracing: () => boolean): SelfCheck {
  const enabled = planned.filter((p) => p.status === 'enabled');
  const activated = new Map<string, Activated>();
  const reported = new Set<string>();
  let scheduled = false;
  const run = () => {
    scheduled = false;
    if (!tracing()) return;
    try {
      for (const line of findUnpatched(enabled, activated, loadedPackages(), reported)) log.warn(line);
      for (const a of activated.values()) {
        const key = `api:${a.planned.name}`;
        if (reported.has(key)) continue;
        reported.add(key);
        const api = unreachedApi(a.planned);
        if (!api) continue;
        const libs = a.planned.targets.map((t) => t.module).join(', ');
        log.warn(
          `${libs} not traced: instrumentor ${a.planned.name} (${a.planned.candidate.package}@${a.planned.candidate.version}) reads @opentelemetry/api ${api.version} (${api.file}), which ignores the registration made through @opentelemetry/api ${globalApiVersion()} — its spans are lost or unparented; make a copy ${api.version} or newer the first to register (resolvable from the app, no other preload setting OpenTelemetry up before otel-run)`,
        );
      }
    } catch (err) {
      log.debug(`self-check failed: ${log.reason(err)}`);
    }
  };
  const schedule = () => {
    if (scheduled || enabled.length === 0) return;
    scheduled = true;
    // Unref'd: the check never keeps the process alive or gives it a turn it would not have had.
    setImmediate(run).unref();
  };
  schedule();
  return {
    activated(p, made) {
      activated.set(p.name, { planned: p, made });
      schedule();
    },
  };
}
