// Runs the user's command as tsx and foreground-child do: stdio inherited, signals relayed, and the child's
// end mirrored: its exit code, or the same signal re-raised on ourselves so a shell sees 128+n.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { constants, tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENDING_SIGNALS, ENV_SIGNAL_REPORT } from '../../register/contract';

// SIGINT and SIGQUIT typed at a terminal reach the whole foreground process group, the child included.
const TERMINAL_SIGNALS = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT']);
// SIGUSR1 opens the inspector of a Node process: relayed, it opens the app's (as `kill -USR1` would bare)
// instead of ours. A second one (sent to the group, then relayed) finds the inspector open: harmless.
const RELAYED: NodeJS.Signals[] =
  process.platform === 'win32' ? [...ENDING_SIGNALS] : [...ENDING_SIGNALS, 'SIGUSR1'];

// A signal sent to the process group (a terminal's Ctrl-C, GNU timeout, `kill -- -PGID`, systemd stopping a
// unit) reaches the child as well as us: relaying it would deliver it twice, and many apps force quit on the
// second. A signal handler in JavaScript cannot tell who sent a signal (libuv keeps no siginfo), so the child
// says what it got: its preload appends each signal it receives to a file we own (register/exit/signals.ts).
// We relay a signal only when the child has not reported it within REPORT_WAIT_MS. A child that runs no
// preload (a shell script, npm) never reports: it gets the signal relayed after that wait, as before (and
// twice when it was sent to the group). A child busy in synchronous code longer than the wait reports late,
// and is relayed to as well.
const REPORT_WAIT_MS = 200;
const REPORT_POLL_MS = 10;

interface Reports {
  /** `<CLI pid>:<file>` for the child's environment. */
  env: string;
  /** True (and the report used up) when the child reported `signal` since `since`. */
  got(signal: NodeJS.Signals, since: number): boolean;
  remove(): void;
}

function createReports(): Reports | undefined {
  if (process.platform === 'win32') return undefined;
  let dir: string;
  try {
    // A private folder (0700, random name): nobody else can plant or read the file.
    dir = fs.mkdtempSync(path.join(tmpdir(), 'otel-run-signals-'));
    fs.writeFileSync(path.join(dir, 'received'), '', { mode: 0o600 });
  } catch {
    return undefined;
  }
  const file = path.join(dir, 'received');
  let seen: Array<{ signal: string; at: number }> = [];
  let offset = 0;
  return {
    env: `${process.pid}:${file}`,
    got(signal, since) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        for (const line of text.slice(offset).split('\n')) {
          const [name, at] = line.split(' ');
          if (name && at) seen.push({ signal: name, at: Number(at) });
        }
        offset = text.lastIndexOf('\n') + 1;
      } catch {}
      // A report older than the wait is of a signal sent to the child alone: not this one.
      seen = seen.filter((r) => r.at >= since - REPORT_WAIT_MS);
      const i = seen.findIndex((r) => r.signal === signal);
      if (i === -1) return false;
      seen.splice(i, 1);
      return true;
    },
    remove() {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {}
    },
  };
}

/**
 * cross-spawn resolves Windows `.cmd` shims (npm.cmd) and shebangs there; elsewhere it hands the call to
 * child_process.spawn unchanged, so it is loaded only on Windows (it costs the launcher 12 modules).
 */
function spawnFor(platform: NodeJS.Platform): typeof import('node:child_process').spawn {
  if (platform === 'win32') return require('cross-spawn') as typeof import('node:child_process').spawn;
  return (require('node:child_process') as typeof import('node:child_process')).spawn;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

function relay(child: ChildProcess, reports: Reports | undefined): () => void {
  const fromTerminal = !!process.stdin.isTTY;
  const timers = new Set<NodeJS.Timeout>();
  const send = (signal: NodeJS.Signals) => {
    try {
      child.kill(signal);
    } catch {}
  };
  // GNU timeout signals its child (us) and then the whole group: we may get the signal twice, the app once.
  // The same signal again while one is being decided, or just after the child reported it, is that one
  // (the kernel merges them too when they come close enough).
  const deciding = new Set<NodeJS.Signals>();
  const reportedAt = new Map<NodeJS.Signals, number>();
  const listeners = RELAYED.map((signal) => {
    const listener = () => {
      if (fromTerminal && TERMINAL_SIGNALS.has(signal)) return;
      if (!reports || signal === 'SIGUSR1') return send(signal);
      const since = Date.now();
      if (deciding.has(signal) || since - (reportedAt.get(signal) ?? -Infinity) < REPORT_WAIT_MS) return;
      deciding.add(signal);
      const poll = () => {
        if (reports.got(signal, since)) {
          deciding.delete(signal);
          reportedAt.set(signal, Date.now());
          return;
        }
        if (Date.now() - since >= REPORT_WAIT_MS) {
          deciding.delete(signal);
          return send(signal);
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          poll();
        }, REPORT_POLL_MS);
        timers.add(timer);
      };
      poll();
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
    for (const timer of timers) clearTimeout(timer);
    reports?.remove();
  };
}

/** Resolves with how the child ended; rejects with CommandError when it could not start. */
export function runChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    const reports = createReports();
    try {
      child = spawnFor(process.platform)(command, args, {
        stdio: 'inherit',
        env: reports ? { ...env, [ENV_SIGNAL_REPORT]: reports.env } : env,
      });
    } catch (err) {
      reports?.remove();
      reject(new CommandError(`cannot start ${command}: ${(err as Error).message}`, 126));
      return;
    }
    const unrelay = relay(child, reports);
    child.on('error', (err: NodeJS.ErrnoException) => {
      unrelay();
      if (err.code === 'ENOENT') reject(new CommandError(`command not found: ${command}`, 127));
      else if (err.code === 'EACCES' || err.code === 'EISDIR' || err.code === 'ENOEXEC') {
        reject(new CommandError(`command not executable: ${command} (${err.code})`, 126));
      } else reject(new CommandError(`cannot start ${command}: ${err.message}`, 126));
    });
    child.on('exit', (code, signal) => {
      unrelay();
      resolve({ code, signal });
    });
  });
}

/** Ends this process the way the child ended. */
export function mirrorExit(result: { code: number | null; signal: NodeJS.Signals | null }): void {
  if (result.signal) {
    const n = constants.signals[result.signal] ?? 0;
    // Node ignores SIGPIPE (and SIGXFSZ) and opens its inspector on SIGUSR1: re-raised as they are, they
    // would leave us alive (then exit 141 later) or print the inspector's banner. A listener added and
    // removed leaves the signal at its default action, whatever it was (libuv resets it to SIG_DFL).
    try {
      process.on(result.signal, () => {});
    } catch {}
    process.removeAllListeners(result.signal);
    try {
      process.kill(process.pid, result.signal);
    } catch {}
    // Still alive: the signal is ignored here (PID 1 in a container).
    setTimeout(() => process.exit(128 + n), 100).unref();
    process.exitCode = 128 + n;
    return;
  }
  process.exit(result.code ?? 1);
}
