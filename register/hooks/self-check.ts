// The self-check: a library the app loaded that its enabled instrumentor did not patch gets one line naming
// both and the likely cause, once per library. It runs off the hot path: on an unref'd setImmediate after
// the preload (the app's top-level code has run by then) and after each activation (the target's load that
// triggered it has finished by then), one scan of require.cache per turn at most.
import { isBuiltin } from 'node:module';
import type { Planned } from '../discovery/plan';
import * as log from '../util/stderr';
import { packageOfFile } from './require-hook';

/** What an activation made: InstrumentationBase instances among them can say what they patched. */
interface ModuleDefinition {
  name?: unknown;
  moduleExports?: unknown;
  moduleVersion?: unknown;
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
      // Only InstrumentationBase instances say what they patched (moduleExports is set when their hook ran).
      const defs = a.made.flatMap((m) => definitionsOf(m) ?? []).filter((d) => d.name === lib);
      if (defs.length === 0 || defs.some((d) => d.moduleExports !== undefined)) continue;
      reported.add(lib);
      lines.push(
        `${lib} is not traced: ${who} is on but its hook never saw ${lib} load (loaded before the instrumentor was enabled, or by a path its require/import hooks do not cover) — run with OTEL_LOG_LEVEL=debug to see how ${lib} was loaded`,
      );
    }
  }
  return lines;
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
