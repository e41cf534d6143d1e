import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';

function findRepoRoot(): string {
  // Walk up rather than count `..`s so this works both compiled (dist/test/helpers) and from source.
  let dir = __dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'otel-run') return dir;
    } catch {
      // no package.json here
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..', '..', '..');
    dir = parent;
  }
}

export const REPO_ROOT: string = findRepoRoot();
export const BIN: string = path.join(REPO_ROOT, 'bin', 'otel-run.js');
export const REGISTER: string = path.join(REPO_ROOT, 'register', 'index.cjs');
export const FIXTURES: string = path.join(REPO_ROOT, 'test', 'fixtures');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  cwd?: string;
  /** Defaults to `hermeticEnv()`; pass `hermeticEnv({...})` to add to it. */
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** `run` defaults to 30000; `start` has no timeout unless given one. */
  timeoutMs?: number;
}

export interface Started {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  killGroup(sig?: NodeJS.Signals): void;
  exited: Promise<RunResult>;
}

const STRIPPED = [/^OTEL_/i, /^NODE_OPTIONS$/i, /^npm_config_/i, /^npm_lifecycle_/i, /^npm_package_/i];

export function hermeticEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (STRIPPED.some((re) => re.test(key))) continue;
    // Set by `node --test` in its children; a child that itself uses node:test would otherwise
    // report to a parent runner that is not listening.
    if (key === 'NODE_TEST_CONTEXT') continue;
    env[key] = value;
  }
  // FORCE_COLOR=0 rather than just NO_COLOR: Node warns when NO_COLOR meets a truthy FORCE_COLOR.
  env.FORCE_COLOR = '0';
  env.NO_COLOR = '1';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

// Children run in their own process group (so a group kill also reaches grandchildren), which
// also means a Ctrl-C or a runner's SIGTERM aimed at us never reaches them: clean up ourselves.
const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

function killGroupQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: the group is already gone
  }
}

function cleanupNow(): void {
  for (const pid of liveGroups) killGroupQuietly(pid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanupNow();
      process.off(sig, onSignal);
      // Only re-raise if ours was the sole listener, i.e. the default action (exit) was due.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// A forgotten child keeps the test file's event loop alive, so 'exit' never comes and the file
// hangs until the runner's timeout (none by default): reap leftovers once all of its tests are done.
// Only under node:test, because calling after() elsewhere makes a plain script print a TAP report.
if (process.env.NODE_TEST_CONTEXT !== undefined || /\.test\.[cm]?js$/.test(process.argv[1] ?? '')) {
  after(() => {
    if (liveGroups.size === 0) return;
    process.stderr.write(`test helpers: killing leftover process group(s) ${[...liveGroups].join(', ')}\n`);
    for (const pid of liveGroups) killGroupQuietly(pid, 'SIGKILL');
  });
}

interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Returns an unsubscribe function. */
  onLine: (listener: (line: string) => void) => () => void;
  closed: Promise<RunResult>;
}

function spawnHermetic(cmd: string, args: string[], opts: RunOptions): Spawned | { failed: Promise<Error> } {
  installCleanup();
  const started = performance.now();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? hermeticEnv(),
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // Spawn failed (e.g. ENOENT); the 'error' event follows and would otherwise be unhandled.
    const failed = new Promise<Error>((resolve) => child.once('error', resolve)).then(
      (error) => new Error(`failed to spawn ${cmd}: ${error.message}`),
    );
    return { failed };
  }
  const pid = child.pid;
  liveGroups.add(pid);
  // Post-spawn 'error's (a failed kill) would otherwise be thrown as an unhandled event.
  child.on('error', (error) => {
    err += `[run] child process error: ${error.message}\n`;
  });

  let out = '';
  let err = '';
  const partial = { stdout: '', stderr: '' };
  const lineListeners = new Set<(line: string) => void>();
  const emitLines = (stream: 'stdout' | 'stderr', chunk: string, final: boolean) => {
    const text = partial[stream] + chunk;
    const lines = text.split(/\r?\n/);
    partial[stream] = final ? '' : lines.pop()!;
    for (const line of lines) {
      if (final && line === '') continue;
      for (const listener of lineListeners) listener(line);
    }
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    emitLines('stdout', chunk, false);
  });
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
    emitLines('stderr', chunk, false);
  });

  // EPIPE when the child exits without reading its stdin is not the test's problem.
  child.stdin!.on('error', () => {});
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();

  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      killGroupQuietly(pid, 'SIGKILL');
    }, opts.timeoutMs);
  }

  const closed = new Promise<RunResult>((resolve) => {
    // 'close' rather than 'exit': it waits for the pipes to drain, so no trailing output is lost.
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      liveGroups.delete(pid);
      emitLines('stdout', '', true);
      emitLines('stderr', '', true);
      if (timedOut) {
        err += `${err === '' || err.endsWith('\n') ? '' : '\n'}[run] timed out after ${opts.timeoutMs}ms; sent SIGKILL to process group ${pid}\n`;
      }
      resolve({
        code,
        signal,
        stdout: out,
        stderr: err,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });

  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    onLine: (listener) => {
      lineListeners.add(listener);
      return () => lineListeners.delete(listener);
    },
    closed,
  };
}

/**
 * Runs a command to completion. Rejects only if it could not be spawned at all; a non-zero exit, a
 * signal death or a timeout all resolve, so assertions can show the output via `describeResult`.
 */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const spawned = spawnHermetic(cmd, args, { ...opts, timeoutMs: opts.timeoutMs ?? 30000 });
  if ('failed' in spawned) throw await spawned.failed;
  return spawned.closed;
}

/** Starts a long-running command. Throws synchronously if it could not be spawned. */
export function start(cmd: string, args: string[], opts: RunOptions = {}): Started {
  const spawned = spawnHermetic(cmd, args, opts);
  if ('failed' in spawned) {
    // The reason only arrives asynchronously, so say what was attempted instead.
    throw new Error(`failed to spawn ${cmd} ${args.join(' ')} (cwd ${opts.cwd ?? process.cwd()})`);
  }
  const { child, pid } = spawned;
  const seen: string[] = [];
  spawned.onLine((line) => seen.push(line));
  let exitedResult: RunResult | undefined;
  const exited = spawned.closed.then((r) => {
    exitedResult = r;
    return r;
  });

  const dump = () => `--- stdout ---\n${spawned.stdout()}\n--- stderr ---\n${spawned.stderr()}`;

  return {
    child,
    pid,
    stdout: spawned.stdout,
    stderr: spawned.stderr,
    waitForLine(re, timeoutMs = 15000) {
      const matches = (line: string) => {
        // A /g or /y regex is stateful across test() calls.
        re.lastIndex = 0;
        return re.test(line);
      };
      const already = seen.find(matches);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise<string>((resolve, reject) => {
        let settled = false;
        let unsubscribe = () => {};
        const settle = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          unsubscribe();
          fn();
        };
        const timer = setTimeout(
          () =>
            settle(() => reject(new Error(`waitForLine(${re}) timed out after ${timeoutMs}ms\n${dump()}`))),
          timeoutMs,
        );
        unsubscribe = spawned.onLine((line) => {
          if (matches(line)) settle(() => resolve(line));
        });
        const onExit = (r: RunResult) =>
          settle(() =>
            reject(
              new Error(
                `waitForLine(${re}): process exited first (code ${r.code}, signal ${r.signal})\n${dump()}`,
              ),
            ),
          );
        if (exitedResult) onExit(exitedResult);
        else void exited.then(onExit);
      });
    },
    signal(sig) {
      try {
        child.kill(sig);
      } catch {
        // already gone
      }
    },
    killGroup(sig = 'SIGKILL') {
      killGroupQuietly(pid, sig);
    },
    exited,
  };
}

export function describeResult(r: RunResult): string {
  const block = (text: string) => (text === '' ? '(empty)' : text.replace(/\n$/, ''));
  return [
    `exit code: ${r.code}, signal: ${r.signal}, duration: ${r.durationMs}ms`,
    '--- stdout ---',
    block(r.stdout),
    '--- stderr ---',
    block(r.stderr),
    '--- end ---',
  ].join('\n');
}

/**
 * Copies test/fixtures/<name> (node_modules and symlinks included) to a fresh temp dir, so that
 * module resolution in the child can never fall back to the repo's own node_modules.
 */
export async function copyFixture(name: string): Promise<string> {
  installCleanup();
  const source = path.join(FIXTURES, name);
  await fs.promises.access(source);
  const safe = path.basename(name).replace(/[^A-Za-z0-9._-]/g, '_');
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `otel-run-${safe}-`));
  tempDirs.add(dir);
  const dest = path.join(dir, path.basename(name));
  // verbatimSymlinks: without it cp rewrites relative link targets to absolute paths into the repo.
  await fs.promises.cp(source, dest, { recursive: true, verbatimSymlinks: true });
  // The realpath, so it compares equal to process.cwd() in a child where tmpdir is a symlink (macOS).
  return fs.promises.realpath(dest);
}

/**
 * The environment of a traced child that sends its spans (only) to `endpoint` under its own service name, with
 * short batching: the one the ES module and load-path tests share.
 */
export function tracesOnlyEnv(
  endpoint: string,
  service: string,
  enabled: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return hermeticEnv({
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: enabled,
    OTEL_NODE_RESOURCE_DETECTORS: 'env',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    // Traces are what these tests are about; the other signals have their own tests.
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    ...extra,
  });
}
