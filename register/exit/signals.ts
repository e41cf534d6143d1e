// The POSIX signals that end a process by default, in the app's process. Without otel-run a signal the app
// does not listen for kills it at once; otel-run listens (hidden, exit/hidden.ts) so it can send the
// pending spans first, and must then reproduce exactly that: the decision is taken from the app's own
// listeners (other libraries' included) as they are when the signal arrives, which is what Node does.
// - The app has none: deliver what is pending (synchronously), remove our listener and re-raise the signal,
//   so the parent sees the same death by signal. As PID 1 (a container) the kernel ignores a re-raised
//   signal: exit(128 + n) instead.
// - The app has some: they decide. A listener that removes itself and re-raises (signal-exit does when it is
//   alone) meets our listener again on the re-raise, and then the app has none.
// Our listener goes first (prepended), so the count is taken before any of the app's listeners removed
// itself; one that went ahead of ours anyway (prependOnceListener) and removed itself still counts. A JavaScript listener runs only when the event loop is free: while synchronous code runs, the
// signal waits (documented limit); and after a re-raise from an app listener the loop may run callbacks that
// were already due before the signal comes back to us.
//
// Under the CLI (the direct child only) two more things happen here, both set up at start: each signal
// received is reported to the CLI, which relays only what the child did not get; and the CLI's death by
// SIGKILL (which it cannot relay) is noticed, see watchParent.
import * as fs from 'node:fs';
import { constants } from 'node:os';
import * as path from 'node:path';
import { ENDING_SIGNALS, ENV_SIGNAL_REPORT } from '../contract';
import * as log from '../util/stderr';
import { appListened, listenHidden, unlistenHidden } from './hidden';

export interface SignalHooks {
  /** The app does not listen: the process is about to die of `signal`; deliver what is pending now. */
  beforeDeath(signal: NodeJS.Signals): void;
  /** The app listens: its listeners decide; start delivering in the background. */
  appHandles(signal: NodeJS.Signals): void;
}

let hooks: SignalHooks | undefined;
let installed = false;
let report: ((signal: NodeJS.Signals) => void) | undefined;

function call(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.debug(`signal: ${log.reason(err)}`);
  }
}

/** Ends the process as the signal's default action would (after hooks.beforeDeath). */
function die(signal: NodeJS.Signals, listener?: () => void): void {
  call(() => hooks?.beforeDeath(signal));
  if (listener) unlistenHidden(signal, listener);
  if (process.pid === 1) process.exit(128 + (constants.signals[signal] ?? 0));
  process.kill(process.pid, signal);
}

/** Listens for the ending signals (once); `withHooks` sets what happens on them. */
export function watchSignals(withHooks?: SignalHooks): void {
  if (withHooks) hooks = withHooks;
  if (installed) return;
  installed = true;
  for (const signal of ENDING_SIGNALS) {
    const onSignal = () => {
      if (report) call(() => report?.(signal));
      if (appListened(signal)) call(() => hooks?.appHandles(signal));
      else die(signal, onSignal);
    };
    try {
      listenHidden(signal, onSignal);
    } catch (err) {
      log.debug(`cannot listen for ${signal}: ${log.reason(err)}`);
    }
  }
}

// How often the child checks that the CLI is still its parent. getppid() is one cheap system call.
const PARENT_CHECK_MS = 1000;

/**
 * Under the CLI: report signals to it, and follow it when it dies without relaying (SIGKILL, the OOM
 * killer). Node has no prctl(PR_SET_PDEATHSIG), so the child looks for itself: once re-parented, it sends
 * what is pending and ends as SIGKILL would have ended it, had the signal been sent to it. The check
 * is an unref'd timer: it never keeps the app alive.
 */
export function followCli(env: NodeJS.ProcessEnv): void {
  const value = env[ENV_SIGNAL_REPORT];
  if (!value) return;
  const colon = value.indexOf(':');
  const cliPid = Number(value.slice(0, colon));
  const file = value.slice(colon + 1);
  // Grandchildren inherit the variable: only the CLI's own child talks to it.
  if (!cliPid || process.ppid !== cliPid || !file) return;
  report = (signal) => fs.appendFileSync(file, `${signal} ${Date.now()}\n`);
  watchSignals();
  const timer = setInterval(() => {
    if (process.ppid === cliPid) return;
    clearInterval(timer);
    log.debug(`the otel-run CLI (pid ${cliPid}) is gone: ending like it`);
    // The CLI cannot remove its report folder now. Only that file and folder, named as the CLI names them
    // (src/run/spawn.ts): never anything recursive on a path read from the environment.
    const dir = path.dirname(file);
    if (path.basename(file) === 'received' && path.basename(dir).startsWith('otel-run-signals-')) {
      try {
        fs.unlinkSync(file);
        fs.rmdirSync(dir);
      } catch {}
    }
    die('SIGKILL');
  }, PARENT_CHECK_MS);
  timer.unref();
}
