// Decides, for every instrumentor discovery found, whether it will run and why not: the answer both the
// preload (what to activate) and `otel-run list` (what to tell the user) need. Nothing here loads an
// instrumentor's code: Python's opentelemetry-instrument checks the target library first, and so do we.

import type { Settings } from '../settings/table';
import type { Candidate, Discovery } from './discover';
import { isBuiltinTarget } from './manifest';
import type { InstrumentorStatus } from './protocol';

export type Status = InstrumentorStatus;

export interface TargetState {
  module: string;
  range: string;
  installed: string | null;
  /** Installed and inside the range. */
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
  for (const [module, range] of Object.entries(c.manifest.targets)) {
    const installed = isBuiltinTarget(module) ? process.versions.node : discovery.installedVersion(module);
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
      p.reason = `target ${p.targets
        .filter((t) => t.ok)
        .map((t) => `${t.module}@${t.installed}`)
        .join(', ')} installed`;
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
  return out;
}
