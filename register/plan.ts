// Decides, for every instrumentor discovery found, whether it will run and why not: the answer both the
// preload (what to activate) and `otel-run list` (what to tell the user) need. Nothing here loads an
// instrumentor's code: Python's opentelemetry-instrument checks the target library first, and so do we.
import type { Candidate, Discovery } from './discover';
import { isBuiltinTarget } from './manifest';
import type { Settings } from './settings';

export type Status =
  | 'enabled'
  | 'disabled'
  | 'disabled-by-default'
  | 'target-not-installed'
  | 'version-mismatch'
  | 'invalid'
  | 'failed'
  | 'duplicate';

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

let satisfiesFn: ((version: string, range: string) => boolean) | undefined;

function satisfies(version: string, range: string): boolean {
  if (range.trim() === '*' || range.trim() === '') return true;
  // Loaded only when a real range has to be checked: the full `semver` index costs ~10 ms.
  satisfiesFn ??= require('semver/functions/satisfies') as (v: string, r: string, o?: object) => boolean;
  try {
    return (satisfiesFn as (v: string, r: string, o?: object) => boolean)(version, range, {
      includePrerelease: true,
    });
  } catch {
    return false;
  }
}

function targetStates(c: Candidate, discovery: Discovery): TargetState[] {
  return Object.entries(c.manifest.targets).map(([module, range]) => {
    const installed = isBuiltinTarget(module) ? process.versions.node : discovery.installedVersion(module);
    return { module, range, installed, ok: installed !== null && satisfies(installed, range) };
  });
}

export interface PlanOptions {
  settings: Pick<Settings, 'enabledInstrumentations' | 'disabledInstrumentations'>;
  env?: NodeJS.ProcessEnv;
  /** Signals whose SDK is on; instrumentors of another signal only are skipped. */
  metricsEnabled?: boolean;
}

export function plan(discovery: Discovery, options: PlanOptions): Planned[] {
  const env = options.env ?? process.env;
  const enabled = options.settings.enabledInstrumentations;
  const disabled = new Set(options.settings.disabledInstrumentations);
  const taken = new Map<string, Planned>();
  const seenPackages = new Map<string, Planned>();
  const out: Planned[] = [];

  // Nearest to the app first (discovery order), so a copy the app installed wins over otel-run's own; within
  // one package, a field-based manifest was already preferred over the catalog by discovery.
  for (const c of discovery.candidates) {
    const m = c.manifest;
    const p: Planned = { name: m.name, candidate: c, targets: [], status: 'enabled', reason: '' };
    out.push(p);
    const key = `${c.package}#${m.name}`;
    const samePackage = seenPackages.get(key);
    if (m.invalid) {
      p.status = 'invalid';
      p.reason = m.invalid;
      continue;
    }
    if (samePackage) {
      p.status = 'duplicate';
      p.reason = `another copy of ${c.package} (${samePackage.candidate.version}) in ${samePackage.candidate.nodeModules} is used`;
      continue;
    }
    const other = taken.get(m.name);
    if (other) {
      p.status = 'duplicate';
      p.reason = `the name ${m.name} is already taken by ${other.candidate.package} in ${other.candidate.nodeModules}`;
      continue;
    }
    seenPackages.set(key, p);
    taken.set(m.name, p);
    p.targets = targetStates(c, discovery);
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
