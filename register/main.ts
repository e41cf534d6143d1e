// The preload's start: runs in every Node process that has otel-run in NODE_OPTIONS. At start it only reads
// the settings, finds instrumentors (cached) and sets one require hook; the SDK and each instrumentor load
// the first time their library is required. Nothing here may throw into the app.
import * as path from 'node:path';
import { activate } from './activate';
import { discover } from './discover';
import * as log from './log';
import { type Planned, plan } from './plan';
import { onFirstRequire } from './require-hook';
import { createSdk, foreignProviderRegistered, type Sdk } from './sdk';
import { readSettings, type Settings } from './settings';
import { ENV_INSTRUMENTATION_CONFIG, OWN_ROOT, PACKAGE_MANAGERS, VERSION } from './shared';

const BRAND = Symbol.for('otel-run.register');

interface State {
  settings: Settings;
  planned: Planned[];
  sdk?: Sdk | null;
  active: string[];
}

function isPackageManager(argv1: string | undefined): boolean {
  if (!argv1) return false;
  const parts = argv1.split(/[\\/]/);
  const file = parts[parts.length - 1] ?? '';
  return PACKAGE_MANAGERS.some(
    (pm) => (pm.file ? pm.file.test(file) : false) || parts.includes(pm.dir ?? '\0'),
  );
}

function instrumentationConfig(): (name: string) => Record<string, unknown> {
  const raw = process.env[ENV_INSTRUMENTATION_CONFIG];
  let all: Record<string, unknown> = {};
  if (raw) {
    try {
      all = JSON.parse(raw) as Record<string, unknown>;
    } catch (err) {
      log.warn(
        `${ENV_INSTRUMENTATION_CONFIG} is not valid JSON (${log.reason(err)}) — instrumentors use their defaults`,
      );
    }
  }
  return (name) => {
    const c = all[name];
    return c && typeof c === 'object' && !Array.isArray(c) ? { ...(c as Record<string, unknown>) } : {};
  };
}

function ensureSdk(state: State): Sdk | null {
  if (state.sdk !== undefined) return state.sdk;
  state.sdk = null;
  if (foreignProviderRegistered()) {
    log.warn(
      'a tracer provider is already registered (another agent, or the app set up OpenTelemetry itself) — otel-run steps aside and instruments nothing',
    );
    return null;
  }
  try {
    state.sdk = createSdk({
      settings: state.settings,
      explicitLogLevel: process.env.OTEL_LOG_LEVEL !== undefined,
      entry: process.argv[1],
      cwd: process.cwd(),
      version: VERSION,
    });
  } catch (err) {
    if (state.settings.strict) throw err;
    log.warn(`setting up tracing failed: ${log.reason(err)} — the app runs untraced`);
  }
  return state.sdk;
}

function activateOne(state: State, p: Planned, configFor: (name: string) => Record<string, unknown>): void {
  const sdk = ensureSdk(state);
  if (!sdk) return;
  try {
    activate(p, { tracerProvider: sdk.tracerProvider, meterProvider: undefined, configFor });
    state.active.push(p.name);
    log.debug(`instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version}) enabled`);
  } catch (err) {
    p.status = 'failed';
    p.reason = log.reason(err);
    if (state.settings.strict) throw err;
    log.warn(
      `instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version}) failed: ${p.reason} — skipped, the app runs without it`,
    );
  }
}

/** Global fetch never goes through require: its first call is the trigger (then fetch is restored). */
function onFirstFetch(fn: () => void): void {
  const g = globalThis as { fetch?: (...args: unknown[]) => unknown };
  const original = g.fetch;
  if (typeof original !== 'function') return;
  const trigger = function fetch(this: unknown, ...args: unknown[]) {
    if (g.fetch === trigger) g.fetch = original;
    fn();
    return original.apply(this, args);
  };
  g.fetch = trigger;
}

function arm(state: State): void {
  const configFor = instrumentationConfig();
  const enabled = state.planned.filter((p) => p.status === 'enabled');
  const eager = state.settings.strict;
  for (const p of enabled) {
    const targets = p.targets.filter((t) => t.ok).map((t) => t.module);
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      activateOne(state, p, configFor);
    };
    if (eager || p.targets.length === 0) {
      go();
      continue;
    }
    for (const t of targets) onFirstRequire(t, go);
    if (p.candidate.manifest.channels?.some((ch) => ch.startsWith('undici:'))) onFirstFetch(go);
  }
  // The app's own use of the API makes spans too: the SDK must be there before its first startSpan.
  onFirstRequire('@opentelemetry/api', (parent) => {
    if (parent?.startsWith(OWN_ROOT + path.sep) && !parent.includes(`${path.sep}node_modules${path.sep}`))
      return;
    ensureSdk(state);
  });
  for (const sdkPackage of ['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace-node']) {
    onFirstRequire(sdkPackage, (parent) => {
      if (parent?.startsWith(OWN_ROOT + path.sep)) return;
      log.warn(
        `the app loads ${sdkPackage} to set up OpenTelemetry itself — otel-run already traces this process; remove one of the two to avoid double spans`,
      );
    });
  }
}

export function start(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[BRAND]) return;
  g[BRAND] = VERSION;

  // Worker threads share the process (and its tracer would need its own exporter); Node's ESM loader thread
  // runs the preload too and must be left alone. Like EDOT, otel-run traces the main thread only.
  const { isMainThread } = require('node:worker_threads') as typeof import('node:worker_threads');
  if (!isMainThread) return;
  if (isPackageManager(process.argv[1])) return;

  const settings = readSettings(process.env, (p) => log.warn(p.message));
  log.setLevel(settings.logLevel);
  if (settings.sdkDisabled) return;
  log.debug(`preload started in ${process.argv[1] ?? '(no script)'} (pid ${process.pid})`);

  const discovery = discover({
    cwd: process.cwd(),
    entry: process.argv[1],
    nodePath: process.env.NODE_PATH,
    ownRoot: OWN_ROOT,
  });
  for (const problem of discovery.problems) log.warn(`instrumentor discovery: ${problem}`);
  const planned = plan(discovery, { settings });
  for (const p of planned) {
    if (p.status === 'invalid') {
      const message = `instrumentor ${p.name} in ${p.candidate.dir}: ${p.reason} — skipped`;
      if (settings.strict) throw new Error(message);
      log.warn(message);
    } else {
      log.debug(
        `instrumentor ${p.name} (${p.candidate.package}): ${p.status}${p.reason ? ` — ${p.reason}` : ''}`,
      );
    }
  }
  const state: State = { settings, planned, active: [] };
  arm(state);
  // Exposed for `otel-run doctor` and tests through a global symbol (never through require).
  g[Symbol.for('otel-run.state')] = state;
}
