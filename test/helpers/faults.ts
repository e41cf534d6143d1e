// The fault matrix's harness (rows in test/faults-exit.test.ts, test/faults-input.test.ts and
// test/faults-signals.test.ts). A row is an app × a way out or a fault × what must happen. Each runs the app
// bare (`node app.js`) and under otel-run (`node bin/otel-run.js node app.js`, OTLP to a receiver here; with
// `alone`, also `NODE_OPTIONS=--require …` without the CLI), and checks: the same exit code or signal, the
// same stdout, the app's own stderr unchanged (otel-run only adds `otel-run: ` lines, each in the house
// format), and every span the app ended before leaving received. Bare runs are shared between rows that run
// the same app the same way.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { type ReceivedSpan, type Receiver, type ReceiverOptions, startReceiver } from './otlp-receiver';
import {
  BIN,
  copyFixture,
  describeResult,
  hermeticEnv,
  REGISTER,
  REPO_ROOT,
  type RunResult,
  run,
  start,
} from './run';

export type Endpoint = 'receiver' | 'refused' | 'dns';

export interface Row {
  name: string;
  /** Fixture folder under test/fixtures (copied to a temp dir). */
  fixture?: string;
  /** Folder of the fixture the app runs in. */
  cwd?: string;
  /** Script, relative to `cwd`. */
  script?: string;
  args?: string[];
  /** Packages of the repo linked into the app's node_modules (the app's own dependencies). */
  link?: string[];
  /** Environment of both runs; `{receiver}` becomes the receiver's URL, `{port}` its port. */
  appEnv?: Record<string, string>;
  /** Environment of the otel-run run only. */
  env?: Record<string, string>;
  receiver?: ReceiverOptions;
  endpoint?: Endpoint;
  /** Sent once the app printed `ready`. */
  signal?: NodeJS.Signals;
  /** Where `signal` goes: the process we started (the CLI under otel-run), or its whole process group. */
  signalTo?: 'process' | 'group';
  /** A command both runs go through, as `timeout 3` (its arguments; the app's command follows). */
  wrap?: string[];
  /** The app's stderr is a pipe whose reader has gone (a daemon's log reader that went away). */
  stderrClosed?: boolean;
  /** Also run under the preload alone (`NODE_OPTIONS=--require …`), which must behave as the CLI run. */
  alone?: boolean;
  /** Runs on the copied fixture before both runs; returns a reason to skip the row, if any. */
  setup?: (dir: string) => string | undefined;
  /** Undoes what `setup` did that would stop the temp copy from being removed. */
  teardown?: (dir: string) => void;
  /** Both runs as an unprivileged user when the suite runs as root (file modes do not stop root). */
  unprivileged?: boolean;
  /** Under OTEL_LOG_LEVEL=debug the SDK's own diagnostics span several lines: skip the stderr comparison. */
  noisy?: boolean;
  expect: {
    code: number | null;
    signal?: NodeJS.Signals | null;
    stdout: string;
    /** Span names that must reach the receiver. */
    spans: string[];
    /** At most this many spans may arrive (a bounded queue). */
    maxSpans?: number;
    /** Each matches at least one line otel-run wrote on stderr. Without any, otel-run must say nothing. */
    stderr?: RegExp[];
    /** Each matches exactly one line otel-run wrote on stderr. */
    once?: RegExp[];
    /** Resource attributes every received span must have. */
    resource?: Record<string, unknown>;
    /** Resource attributes no received span may have. */
    absentResource?: string[];
    /** Text that must appear nowhere in the output of the otel-run run. */
    nowhere?: string[];
    /** What else must hold of the spans received: a reason when it does not. */
    check?: (spans: ReceivedSpan[]) => string | undefined;
    /** What must hold of the copied fixture after each otel-run run (files written, left alone). */
    after?: (root: string) => string | undefined;
  };
}

export const APP = 'faults-app';
export const ROOT = process.getuid?.() === 0;
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
/** A warning as STYLE.md has it: `otel-run: <what failed>: <why> — <what happens instead>`. */
export const WARNING = /^otel-run: .+: .+ — .+$/;

/** Lets the fixture require these packages from the repo, as an app's own dependencies. */
export function linkPackages(dir: string, names: string[]): void {
  for (const name of names) {
    const link = path.join(dir, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', name), link);
  }
}

async function refusedUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// The app's stderr into `true`, which is gone (or going) by the time the app writes: its first write fails
// with EPIPE. bash, so the run's exit status is the app's ($PIPESTATUS: the pipeline's first), not true's.
const STDERR_CLOSED = 'exec 3>&1; "$@" 2>&1 >&3 3>&- | true; exit $PIPESTATUS';

async function runOnce(row: Row, command: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  let full = [...(row.wrap ?? []), ...command];
  if (row.stderrClosed) full = ['bash', '-c', STDERR_CLOSED, 'bash', ...full];
  const [cmd, ...args] = full as [string, ...string[]];
  if (!row.signal) return run(cmd, args, { cwd, env, timeoutMs: 30_000 });
  const child = start(cmd, args, { cwd, env, timeoutMs: 30_000 });
  await child.waitForLine(/^ready$/);
  if (row.signalTo === 'group') child.killGroup(row.signal);
  else child.signal(row.signal);
  return child.exited;
}

/** otel-run's own lines on stderr. */
export function ours(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('otel-run: '));
}

/** stderr without otel-run's own lines: what the app itself wrote. */
function appStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !line.startsWith('otel-run: '))
    .join('\n');
}

const bareRuns = new Map<string, Promise<RunResult>>();

function anonymise(text: string, root: string): string {
  return text.split(root).join('<fixture>');
}

export async function check(row: Row): Promise<string | undefined> {
  const root = await copyFixture(row.fixture ?? APP);
  const dir = path.join(root, row.cwd ?? '.');
  linkPackages(dir, ['@opentelemetry/api', ...(row.link ?? [])]);
  const skip = row.setup?.(root);
  if (skip) return skip;
  let receiver: Receiver | undefined;
  let endpoint: string;
  if (row.endpoint === 'refused') endpoint = await refusedUrl();
  else if (row.endpoint === 'dns') endpoint = 'http://nonexistent.invalid:4318';
  else {
    receiver = await startReceiver(row.receiver);
    endpoint = receiver.url;
  }
  try {
    const appEnv = Object.fromEntries(
      Object.entries(row.appEnv ?? {}).map(([k, v]) => [
        k,
        v
          .replace('{receiver}', receiver?.url ?? '')
          .replace('{port}', receiver ? new URL(receiver.url).port : ''),
      ]),
    );
    const app = [row.script ?? 'app.js', ...(row.args ?? [])];
    const [node, ...prefix] =
      row.unprivileged && ROOT ? [...AS_NOBODY, process.execPath] : [process.execPath];
    const runBare = () => runOnce(row, [node!, ...prefix, ...app], dir, hermeticEnv(appEnv));
    // The same app run the same way ends the same way: rows share their bare run, with the copy's folder
    // in its output replaced (stack traces name it), unless the row prepares its copy or the app talks to
    // the receiver.
    const shared = !row.setup && !/\{(receiver|port)\}/.test(JSON.stringify(row.appEnv ?? {}));
    const key = JSON.stringify([
      row.fixture ?? APP,
      row.cwd,
      app,
      row.appEnv,
      row.signal,
      row.signalTo,
      row.wrap,
      row.stderrClosed,
      row.unprivileged,
    ]);
    let bareRun = shared ? bareRuns.get(key) : undefined;
    if (!bareRun) {
      bareRun = runBare().then((r) => ({
        ...r,
        stdout: anonymise(r.stdout, root),
        stderr: anonymise(r.stderr, root),
      }));
      if (shared) bareRuns.set(key, bareRun);
    }
    const bare = await bareRun;
    const tracedEnv = {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      OTEL_SERVICE_NAME: 'faults',
      ...appEnv,
      ...row.env,
    };
    const ways: Array<[string, string[], NodeJS.ProcessEnv]> = [
      ['under otel-run', [node!, ...prefix, BIN, process.execPath, ...app], tracedEnv],
    ];
    if (row.alone)
      ways.push([
        'under the preload alone',
        [node!, ...prefix, ...app],
        { ...tracedEnv, NODE_OPTIONS: `--require ${REGISTER}` },
      ]);
    for (const [how, command, env] of ways) {
      // Only what this run sends counts (a second agent in the bare run sends too).
      receiver?.reset();
      const traced = await runOnce(row, command, dir, hermeticEnv(env));
      traced.stdout = anonymise(traced.stdout, root);
      traced.stderr = anonymise(traced.stderr, root);
      const show = `\nbare:\n${describeResult(bare)}\n${how}:\n${describeResult(traced)}\n${
        receiver ? `receiver: ${receiver.requests.map((r) => `${r.path}=${r.status}`).join(', ')}` : ''
      }`;
      const { expect } = row;
      assert.equal(bare.code, expect.code, `bare exit code${show}`);
      assert.equal(bare.signal, expect.signal ?? null, `bare signal${show}`);
      assert.equal(bare.stdout, expect.stdout, `bare stdout${show}`);
      assert.equal(traced.code, expect.code, `exit code ${how}${show}`);
      assert.equal(traced.signal, expect.signal ?? null, `signal ${how}${show}`);
      assert.equal(traced.stdout, bare.stdout, `stdout ${how}${show}`);
      const lines = ours(traced.stderr);
      if (!row.noisy) {
        assert.equal(appStderr(traced.stderr), appStderr(bare.stderr), `the app's own stderr${show}`);
        for (const line of lines) assert.match(line, WARNING, `a warning in the house format${show}`);
        if (!expect.stderr && !expect.once) assert.deepEqual(lines, [], `otel-run had nothing to say${show}`);
      }
      for (const re of expect.stderr ?? []) {
        assert.ok(
          lines.some((line) => re.test(line)),
          `expected an otel-run line matching ${re}${show}`,
        );
      }
      for (const re of expect.once ?? []) {
        const n = lines.filter((line) => re.test(line)).length;
        assert.equal(n, 1, `expected exactly one otel-run line matching ${re}${show}`);
      }
      for (const text of expect.nowhere ?? []) {
        assert.ok(
          !traced.stderr.includes(text) && !traced.stdout.includes(text),
          `otel-run printed ${JSON.stringify(text)}${show}`,
        );
      }
      if (receiver) {
        // The run is over: whatever the exit path sent has arrived, or never will.
        const names = new Set(receiver.spans.map((s) => s.name));
        for (const name of expect.spans) {
          assert.ok(names.has(name), `span ${name} not received (got ${JSON.stringify([...names])})${show}`);
        }
        for (const span of receiver.spans) {
          for (const [key, value] of Object.entries(expect.resource ?? {}))
            assert.equal(span.resource[key], value, `resource ${key} of span ${span.name}${show}`);
          for (const key of expect.absentResource ?? [])
            assert.ok(!(key in span.resource), `resource ${key} of span ${span.name} was set${show}`);
        }
        const bad = expect.check?.(receiver.spans);
        assert.equal(bad, undefined, `${bad}${show}`);
        if (expect.maxSpans !== undefined) {
          assert.ok(
            receiver.spans.length <= expect.maxSpans,
            `${receiver.spans.length} spans received, at most ${expect.maxSpans} expected${show}`,
          );
        }
      }
      const wrong = expect.after?.(root);
      assert.equal(wrong, undefined, `${wrong}${show}`);
    }
    return undefined;
  } finally {
    await receiver?.close();
    row.teardown?.(root);
  }
}

export function matrix(title: string, rows: Row[]): void {
  describe(title, { concurrency: 2 }, () => {
    for (const row of rows) {
      test(row.name, async (t) => {
        const skip = await check(row);
        if (skip) t.skip(skip);
      });
    }
  });
}
