// Runs the user's command as tsx and foreground-child do: stdio inherited, signals relayed, and the child's
// end mirrored: its exit code, or the same signal re-raised on ourselves so a shell sees 128+n.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

// SIGINT and SIGQUIT typed at a terminal reach the whole foreground process group, the child included:
// relaying them would deliver them twice (many apps force-quit on the second Ctrl-C). Without a terminal
// (a supervisor, `kill`, a test) only we get them, so we relay.
const TERMINAL_SIGNALS = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT']);
const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

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

function relay(child: ChildProcess): () => void {
  const fromTerminal = !!process.stdin.isTTY;
  const listeners = RELAYED.map((signal) => {
    const listener = () => {
      if (fromTerminal && TERMINAL_SIGNALS.has(signal)) return;
      try {
        child.kill(signal);
      } catch {}
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
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
    try {
      child = spawnFor(process.platform)(command, args, { stdio: 'inherit', env });
    } catch (err) {
      reject(new CommandError(`cannot start ${command}: ${(err as Error).message}`, 126));
      return;
    }
    const unrelay = relay(child);
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
    process.removeAllListeners(result.signal);
    try {
      process.kill(process.pid, result.signal);
    } catch {}
    // Still alive: the signal is ignored here (PID 1 in a container, or SIG_IGN inherited).
    setTimeout(() => process.exit(128 + n), 100).unref();
    process.exitCode = 128 + n;
    return;
  }
  process.exit(result.code ?? 1);
}
