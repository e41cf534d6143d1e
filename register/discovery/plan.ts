// Decides, for every instrumentor discovery found, whether it will run and why not: the answer both the
// preload (what to activate) and `otel-run list` (what to tell the user) need. Nothing here loads an
// instrumentor's code: Python's opentelemetry-instrument checks the target library first, and so do we.

import type { Settings } from '../settings/table';
import type { Candidate, Discovery } from './discover';
import { catalogByName, pinOf } from './lines';
import { fromCatalog, isBuiltinTarget, type Manifest, rangesGate } from './manifest';
import type { InstrumentorStatus } from './protocol';

export type Status = InstrumentorStatus;

export interface TargetState {
  module: string;
  range: string;
  installed: string | null;
  /** Installed and inside the range (installed at all, when the range is not gated on). */
  ok: boolean;
}

export interface Planned {
  name: string;
  candidate: Candidate;
  targets: TargetState[];
  status: Status;
  reason: string;
}

/** The target states, and the reason a range is unusable (a typo must not read as "version outside range"). */
function targetStates(c: Candidate, discovery: Discovery): { states: TargetState[]; problem?: string } {
  const states: TargetState[] = [];
  let problem: string | undefined;
  const gate = rangesGate(c.manifest, c.version);
  for (const [module, range] of Object.entries(c.manifest.targets)) {
    const installed = isBuiltinTarget(module) ? process.versions.node : discovery.installedVersion(module);
    if (!gate) {
      states.push({ module, range, installed, ok: installed !== null });
      continue;
    }
    let ok = false;
    try {
      // A third party's range is checked even when its target is absent, so `list` shows a typo; the
      // catalog's are known good. discover() has made (and cached) every check asked here.
      if (installed !== null || c.manifest.source === 'field')
        ok = discovery.satisfies(installed ?? '0.0.0', range);
      ok &&= installed !== null;
    } catch {
      problem ??= `instruments[${JSON.stringify(module)}]: ${JSON.stringify(range)} is not a semver range`;
    }
    states.push({ module, range, installed, ok });
  }
  return { states, problem };
}

export interface PlanOptions {
  settings: Pick<Settings, 'enabledInstrumentations' | 'disabledInstrumentations'>;
  env?: NodeJS.ProcessEnv;
  /** Signals whose SDK is on; instrumentors of another signal only are skipped. */
  metricsEnabled?: boolean;
  /** Names the configuration gives options to (`instrumentations` of the config file). */
  configured?: readonly string[];
}

/**
 * Names the user asked for that no installed package provides: `not-installed`, with the command that installs
 * the contrib package of that name (the line that runs on this Node), so a typo or a missing install is said
 * rather than silently doing nothing.
 */
function notInstalled(discovery: Discovery, options: PlanOptions): Planned[] {
  const present = new Set(discovery.candidates.map((c) => c.manifest.name));
  const asked = new Map<string, string>();
  // `none` is how users write an allowlist that enables nothing: not a name to look for.
  for (const name of options.settings.enabledInstrumentations ?? [])
    if (!asked.has(name) && name !== 'none') asked.set(name, 'named in the enabled list');
  for (const name of options.configured ?? [])
    if (!asked.has(name)) asked.set(name, 'given options in the configuration');
  const out: Planned[] = [];
  for (const [name, why] of asked) {
    if (present.has(name) || options.settings.disabledInstrumentations.includes(name)) continue;
    const entry = catalogByName(name);
    const manifest: Manifest = entry
      ? fromCatalog(entry)
      : { name, targets: {}, source: 'field', invalid: undefined };
    const candidate: Candidate = {
      manifest,
      package: entry?.package ?? '',
      version: '',
      dir: '',
      nodeModules: '',
      fromApp: false,
    };
    out.push({
      name,
      candidate,
      targets: Object.entries(manifest.targets).map(([module, range]) => ({
        module,
        range,
        installed: isBuiltinTarget(module) ? process.versions.node : discovery.installedVersion(module),
        ok: false,
      })),
      status: 'not-installed',
      reason: entry
        ? `${why}, but ${entry.package} is not installed (install it: npm install ${entry.package}@${pinOf(entry)})`
        : `${why}, but no installed package provides an instrumentor of that name, and no contrib instrumentation has it`,
    });
  }
  return out;
}

/**
 * Which candidate owns each name: a package that declares the field wins over a catalog row (it was
 * installed on purpose, possibly to replace the contrib one); otherwise the first in discovery order, i.e.
 * nearest to the app, then otel-run's own install, then by package name.
 */
function owners(candidates: readonly Candidate[], usable: (c: Candidate) => boolean): Map<string, Candidate> {
  const owner = new Map<string, Candidate>();
  for (const c of candidates) {
    if (!usable(c)) continue;
    const current = owner.get(c.manifest.name);
    if (!current || (current.manifest.source === 'catalog' && c.manifest.source === 'field'))
      owner.set(c.manifest.name, c);
  }
  return owner;
}

export function plan(discovery: Discovery, options: PlanOptions): Planned[] {
  const env = options.env ?? process.env;
  const enabled = options.settings.enabledInstrumentations;
  const disabled = new Set(options.settings.disabledInstrumentations);
  const checked = new Map(discovery.candidates.map((c) => [c, targetStates(c, discovery)]));
  // An invalid manifest claims no name, so a good copy further away still runs.
  const owner = owners(discovery.candidates, (c) => !c.manifest.invalid && !checked.get(c)?.problem);
  const out: Planned[] = [];

  for (const c of discovery.candidates) {
    const m = c.manifest;
    const p: Planned = { name: m.name, candidate: c, targets: [], status: 'enabled', reason: '' };
    out.push(p);
    const { states, problem } = checked.get(c) ?? targetStates(c, discovery);
    p.targets = states;
    if (m.invalid || problem) {
      p.status = 'invalid';
      p.reason = [m.invalid, problem].filter(Boolean).join('; ');
      continue;
    }
    const first = owner.get(m.name);
    if (first && first !== c) {
      p.status = 'duplicate';
      p.reason =
        first.dir === c.dir
          ? `the name ${m.name} is given twice in this package's otelInstrumentor; the first is used`
          : first.package === c.package
            ? `another copy of ${c.package} (${first.version}, in ${first.nodeModules}) is used`
            : `the name ${m.name} belongs to ${first.package} (${first.nodeModules})`;
      continue;
    }
    if (disabled.has(m.name)) {
      p.status = 'disabled';
      p.reason = 'named in the disabled list';
    } else if (enabled && !enabled.includes(m.name)) {
      p.status = 'disabled';
      p.reason = 'not in the enabled list';
    } else if (!enabled && m.defaultOff) {
      p.status = 'disabled-by-default';
      p.reason = 'off unless named in --enable / OTEL_NODE_ENABLED_INSTRUMENTATIONS';
    } else if (m.signal === 'metrics' && !options.metricsEnabled) {
      p.status = 'disabled';
      p.reason = 'records metrics only, and no metrics exporter is on';
    } else if (m.name === 'aws-lambda' && m.source === 'catalog' && !env.LAMBDA_TASK_ROOT) {
      p.status = 'target-not-installed';
      p.reason = 'not running in AWS Lambda (LAMBDA_TASK_ROOT is not set)';
    } else if (p.targets.length === 0) {
      if (!m.always && m.source === 'catalog') {
        p.status = 'target-not-installed';
        p.reason = 'declares no target module';
      } else {
        p.reason =
          m.source === 'field' ? 'no target declared: loaded at start' : 'hooks no module: loaded at start';
      }
    } else if (p.targets.some((t) => t.ok)) {
      const found = p.targets
        .filter((t) => t.ok)
        .map((t) => `${t.module}@${t.installed}`)
        .join(', ');
      p.reason =
        m.source === 'field'
          ? `target ${found} installed`
          : rangesGate(c.manifest, c.version)
            ? `target ${found} installed (inside the catalog's ranges, made from this version)`
            : `target ${found} installed; ${c.package}@${c.version} is not the ${m.rangesOf} the catalog's ranges come from: its own hook checks the version`;
    } else if (m.channels && m.name === 'undici') {
      p.reason = "Node's global fetch publishes the undici channels it listens to";
    } else if (p.targets.some((t) => t.installed !== null)) {
      p.status = 'version-mismatch';
      p.reason = p.targets
        .filter((t) => t.installed !== null)
        .map((t) => `${t.module}@${t.installed} is outside ${t.range}`)
        .join('; ');
    } else {
      p.status = 'target-not-installed';
      p.reason = `${p.targets.map((t) => t.module).join(', ')} not installed`;
    }
  }
  out.push(...notInstalled(discovery, options));
  return out;
}
