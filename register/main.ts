// The preload's start: runs in every Node process that has otel-run in NODE_OPTIONS. At start it only reads
// the settings, finds instrumentors (cached) and sets one require hook; the SDK and each instrumentor load
// the first time their library is required. Nothing here may throw into the app.
import * as path from 'node:path';
import { readConfig, reportConfigProblems } from './config/read';
import { ENV_SIGNAL_REPORT, OWN_ROOT, PACKAGE_MANAGERS, VERSION } from './contract';
import { discover } from './discovery/discover';
import { type Planned, plan } from './discovery/plan';
import { setUpEsm } from './hooks/esm';
import { onFirstRequire } from './hooks/require-hook';
import { type SelfCheck, startSelfCheck } from './hooks/self-check';
import type { Sdk } from './sdk/tracing';
import { metricsOn } from './settings/endpoints';
import { readSettings, type Settings } from './settings/table';
import * as log from './util/stderr';

const BRAND = Symbol.for('otel-run.register');

interface State {
  settings: Settings;
  planned: Planned[];
  sdk?: Sdk | null;
  active: string[];
  /** set while the SDK is being built; what is triggered meanwhile runs once it is (`afterSdk`). */
  creating?: boolean;
  afterSdk?: Array<() => void>;
  /** process.env with the config file's settings under it (preload alone), else process.env. */
  env: NodeJS.ProcessEnv;
  configFile?: string;
  /** Names each enabled instrumentor's library that was loaded but not patched (hooks/self-check.ts). */
  selfCheck?: SelfCheck;
  /** Set when OTEL_CONFIG_FILE configured this process. */
  otelConfig?: import('./otel-config/apply').FileConfigured;
}

function isPackageManager(argv1: string | undefined): boolean {
  if (!argv1) return false;
  const file = `/${argv1.replace(/\\/g, '/')}`;
  return PACKAGE_MANAGERS.some((re) => re.test(file));
}

function ensureSdk(state: State): Sdk | null {
  if (state.sdk !== undefined) return state.sdk;
  state.sdk = null;
  // Loaded now, not at start: a process that never makes a span never loads the SDK's modules. An
  // instrumentor its requires trigger waits for the SDK, as while building it (below).
  let sdkModule: typeof import('./sdk/tracing');
  state.creating = true;
  try {
    sdkModule = require('./sdk/tracing') as typeof import('./sdk/tracing');
  } catch (err) {
    if (state.settings.strict) throw err;
    log.warn(`setting up tracing failed: ${log.reason(err)} — the app runs untraced`);
    return null;
  } finally {
    state.creating = false;
  }
  const { createSdk, foreignProviderRegistered } = sdkModule;
  if (foreignProviderRegistered()) {
    log.warn(
      'tracing not set up: a tracer provider is already registered (another agent, or the app set up OpenTelemetry itself) — otel-run steps aside and instruments nothing',
    );
    return null;
  }
  try {
    // Building the SDK requires modules (the metrics exporters load http): an instrumentor they trigger
    // waits for the SDK instead of finding none and being skipped for good.
    state.creating = true;
    state.sdk = createSdk({
      settings: state.settings,
      explicitLogLevel: state.otelConfig
        ? !!state.otelConfig.declared?.logLevelGiven
        : !!state.env.OTEL_LOG_LEVEL?.trim(),
      declared: state.otelConfig?.declared,
      entry: process.argv[1],
      cwd: process.cwd(),
      version: VERSION,
      instrumentors: state.planned
        .filter((p) => p.status === 'enabled')
        .map((p) => ({ name: p.name, dir: p.candidate.dir })),
    });
  } catch (err) {
    if (state.settings.strict) throw err;
    log.warn(`setting up tracing failed: ${log.reason(err)} — the app runs untraced`);
  } finally {
    state.creating = false;
  }
  const waiting = state.afterSdk ?? [];
  state.afterSdk = undefined;
  for (const fn of waiting) fn();
  return state.sdk;
}

/** Runs `fn` once the SDK is built (ensureSdk runs the list). */
function whenSdk(state: State, fn: () => void): void {
  if (!state.afterSdk) state.afterSdk = [];
  state.afterSdk.push(fn);
}

function activateOne(state: State, p: Planned, configFor: (name: string) => Record<string, unknown>): void {
  if (state.creating) {
    whenSdk(state, () => activateOne(state, p, configFor));
    return;
  }
  const sdk = ensureSdk(state);
  if (!sdk) return;
  try {
    const { activate } = require('./hooks/activate') as typeof import('./hooks/activate');
    const made = activate(p, {
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      configFor,
    });
    state.active.push(p.name);
    state.selfCheck?.activated(
      p,
      made.map((m) => m.value),
    );
    log.debug(`instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version}) enabled`);
  } catch (err) {
    p.status = 'failed';
    p.reason = log.reason(err);
    if (state.settings.strict)
      throw new Error(
        `otel-run: instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version}) failed: ${p.reason} (strict mode: instrumentor errors are fatal)`,
        { cause: err },
      );
    log.warn(
      `instrumentor ${p.name} (${p.candidate.package}@${p.candidate.version}) failed: ${p.reason} — skipped, the app runs without it`,
    );
  }
}

/**
 * Node's global fetch never goes through require: an instrumentor that listens on diagnostics_channel is
 * activated by the first message on one of its channels. Nothing the app can see is patched (a wrapper
 * around globalThis.fetch showed in its length, toString and identity, and threw when the app had made fetch
 * read-only). A channel calls only the subscribers it had when the message was published (Node 20), so the
 * subscriptions the instrumentor makes while it is activated are handed that first message: the first
 * request is traced too.
 */
function onFirstMessage(channels: readonly string[], fn: () => void): void {
  const dc = require('node:diagnostics_channel') as typeof import('node:diagnostics_channel');
  let fired = false;
  const triggers = channels.map((name) => {
    const trigger = (message: unknown) => {
      if (fired) return;
      fired = true;
      for (const [channel, t] of triggers) dc.unsubscribe(channel, t);
      const late: Array<[string | symbol, (message: unknown, name: string | symbol) => void]> = [];
      const subscribe = dc.subscribe;
      dc.subscribe = (channel, onMessage) => {
        late.push([channel, onMessage]);
        subscribe(channel, onMessage);
      };
      try {
        fn();
      } catch (err) {
        // Thrown from a subscriber, it would become the app's uncaught exception (Node reports it so).
        log.debug(`activating on ${String(name)}: ${log.reason(err)}`);
      } finally {
        dc.subscribe = subscribe;
      }
      for (const [channel, onMessage] of late) if (channel === name) onMessage(message, name);
    };
    return [name, trigger] as const;
  });
  for (const [channel, trigger] of triggers) dc.subscribe(channel, trigger);
}

function arm(state: State, configFor: (name: string) => Record<string, unknown>, eagerForEsm = false): void {
  const enabled = state.planned.filter((p) => p.status === 'enabled');
  const eager = state.settings.strict || eagerForEsm;
  for (const p of enabled) {
    const targets = p.targets.filter((t) => t.ok).map((t) => t.module);
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      activateOne(state, p, configFor);
    };
    if (!eager && p.targets.length === 0 && p.candidate.manifest.signal === 'metrics') {
      // Runtime metrics hook no module: they start with the SDK (the first instrumented require or use of
      // the API), so a process that never does traced work never loads the metrics SDK for them.
      if (state.sdk !== undefined) go();
      else whenSdk(state, go);
      continue;
    }
    if (eager || p.targets.length === 0) {
      go();
      continue;
    }
    for (const t of targets) onFirstRequire(t, go);
    if (p.candidate.manifest.channels?.length) onFirstMessage(p.candidate.manifest.channels, go);
  }
  // Trace context to child processes (register/context/child-process.ts): the wrappers pass through until a span exists.
  onFirstRequire('child_process', () =>
    (require('./context/child-process') as typeof import('./context/child-process')).patchChildProcess(),
  );
  // The app's own use of the API makes spans too: the SDK must be there before its first startSpan.
  // An @opentelemetry package requiring the API is not the app making spans (an SDK or instrumentation being
  // loaded); building our SDK in the middle of such a load would also meet its half-initialised exports
  // ("Class extends value undefined"). Those requires re-arm the trigger.
  const otelPackage = `${path.sep}node_modules${path.sep}@opentelemetry${path.sep}`;
  const built = path.join(OWN_ROOT, 'dist') + path.sep;
  const ours = (parent: string | undefined) =>
    !!parent && (parent.startsWith(built) || parent.includes(otelPackage));
  const watchApi = () =>
    onFirstRequire('@opentelemetry/api', (parent) => (ours(parent) ? watchApi() : ensureSdk(state)));
  watchApi();
  // Same for the logs API: the app's own log records need the logger provider.
  const watchLogsApi = () =>
    onFirstRequire('@opentelemetry/api-logs', (parent) => (ours(parent) ? watchLogsApi() : ensureSdk(state)));
  watchLogsApi();
  // The app setting OpenTelemetry up itself: before our SDK exists, step aside (its registration must win,
  // and nothing is patched twice); after, say that both run.
  const watchSdk = (sdkPackage: string) =>
    onFirstRequire(sdkPackage, (parent) => {
      if (!parent || ours(parent)) return watchSdk(sdkPackage);
      if (state.sdk === undefined && !state.creating) {
        state.sdk = null;
        log.warn(
          `tracing not set up: the app loads ${sdkPackage} to set up OpenTelemetry itself — otel-run steps aside and instruments nothing`,
        );
      } else if (state.sdk) {
        log.warn(
          `double tracing: the app loads ${sdkPackage} to set up OpenTelemetry itself — otel-run already traces this process; remove one of the two to avoid double spans`,
        );
      }
    });
  for (const p of [
    '@opentelemetry/sdk-node',
    '@opentelemetry/sdk-trace-node',
    '@opentelemetry/sdk-trace-base',
  ])
    watchSdk(p);
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
  // Before anything that may fail: the CLI relays a signal only when its child did not report it.
  if (process.env[ENV_SIGNAL_REPORT])
    (require('./exit/signals') as typeof import('./exit/signals')).followCli(process.env);
  // Disabled means nothing at all: not even a config file is looked for (a JavaScript one would run code).
  if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return;

  // Per-instrumentor options and, used alone, the config file (register/config/read.ts).
  const config = readConfig(process.env, process.cwd());
  const settingProblems: string[] = [];
  // OTEL_CONFIG_FILE: the OpenTelemetry configuration file replaces the OTEL_* layer (register/otel-config/).
  const otelFile = config.env.OTEL_CONFIG_FILE?.trim()
    ? (require('./otel-config/apply') as typeof import('./otel-config/apply')).readOtelConfigFile(
        config.env,
        process.cwd(),
        (p) => settingProblems.push(p.message),
      )
    : undefined;
  const settings = otelFile?.settings ?? readSettings(config.env, (p) => settingProblems.push(p.message));
  log.setLevel(settings.logLevel);
  // Read by register/index.cjs, so strict mode set in a config file also makes a start failure fatal.
  if (settings.strict) g[Symbol.for('otel-run.strict')] = true;
  // Strict mode: a bad OTEL_* value stops the start, as a config file problem does.
  if (settings.strict && settingProblems[0])
    throw new Error(
      `otel-run: ${settingProblems[0].replace(/ — .*$/, '')} (strict mode: configuration problems are fatal)`,
    );
  for (const message of settingProblems) log.warn(message);
  if (settings.sdkDisabled) return;
  if (process.versions.pnp) {
    const { PNP_UNSUPPORTED } = require('./util/pnp') as typeof import('./util/pnp');
    log.warn(`${PNP_UNSUPPORTED} — this process runs untraced`);
    return;
  }
  reportConfigProblems(config.problems, settings.strict);
  log.debug(`preload started in ${process.argv[1] ?? '(no script)'} (pid ${process.pid})`);

  const discovery = discover({
    cwd: process.cwd(),
    entry: process.argv[1],
    nodePath: process.env.NODE_PATH,
    ownRoot: OWN_ROOT,
  });
  for (const problem of discovery.problems) log.warn(`instrumentor discovery: ${problem}`);
  const { folders, fromCache, packagesRead } = discovery.stats;
  log.debug(
    `instrumentor discovery: ${folders} folder(s), ${fromCache} from the cache, ${packagesRead} package.json read`,
  );
  const planned = plan(discovery, {
    settings,
    metricsEnabled: metricsOn(settings),
    configured: config.configured,
  });
  for (const p of planned) {
    if (p.status === 'not-installed') {
      log.warn(`instrumentor ${p.name}: ${p.reason} — not traced`);
    } else if (p.status === 'invalid') {
      const message = `instrumentor ${p.name} in ${p.candidate.dir}: ${p.reason} — skipped`;
      if (settings.strict) throw new Error(message);
      log.warn(message);
    } else {
      log.debug(
        `instrumentor ${p.name} (${p.candidate.package}): ${p.status}${p.reason ? ` — ${p.reason}` : ''}`,
      );
    }
  }
  const state: State = { settings, planned, active: [], env: config.env, configFile: config.file };
  // Not when otel-run stepped aside (another SDK): nothing of ours was meant to patch then.
  state.selfCheck = startSelfCheck(planned, () => state.sdk !== null);
  const configFor = otelFile
    ? (name: string) => otelFile.configFor(name, config.configFor)
    : config.configFor;
  if (otelFile) state.otelConfig = otelFile;
  // ES module hooks go in before any instrumentor is built (register/hooks/esm.ts).
  arm(state, configFor, setUpEsm(planned, settings.esm).eager);
  // --process-span: the run's span starts now (dated from the process start), whatever the app requires.
  if (settings.processSpan) ensureSdk(state);
  if (log.isEnabled('info'))
    (require('./startup-line') as typeof import('./startup-line')).logStartup(settings, planned, VERSION);
  // Exposed for `otel-run doctor` and tests through a global symbol (never through require).
  g[Symbol.for('otel-run.state')] = state;
}
