// The fault matrix, part three: the app shares its process with other libraries and its surroundings.
// Other libraries' signal listeners (signal-exit, alone and under proper-lockfile), a signal sent to the
// whole process group, exit events (beforeExit, unref'd timers, pg's pool), a stderr whose reader went
// away, a read-only global fetch, and the rest of a process's life (SIGHUP/SIGQUIT/SIGUSR2, SIGUSR1, a
// child dying of SIGPIPE, the CLI killed by SIGKILL). Each row runs bare, under the CLI and under the
// preload alone (helpers/faults.ts).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { APP, linkPackages, matrix, type Row } from './helpers/faults';
import { startReceiver } from './helpers/otlp-receiver';
import { BIN, copyFixture, describeResult, hermeticEnv, start } from './helpers/run';

const FIXTURE = 'faults-signals';

/** Running, not a zombie waiting for whoever adopted it to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const hasTimeout = spawnSync('timeout', ['--version'], { stdio: 'ignore' }).status === 0;

const LIBRARY_ROWS: Row[] = [
  ...(['SIGTERM', 'SIGINT'] as const).map(
    (sig): Row => ({
      name: `signal-exit 4 is the app's only listener, ${sig}: its cleanup runs, the app dies of the signal`,
      fixture: FIXTURE,
      args: ['signal-exit-4'],
      link: ['signal-exit'],
      signal: sig,
      alone: true,
      expect: {
        code: null,
        signal: sig,
        stdout: `SIGTERM listeners 1, count 1\nready\ncleanup (null, ${sig}); listeners 0\n`,
        spans: ['before-signal'],
      },
    }),
  ),
  {
    name: 'signal-exit 3, SIGTERM: its cleanup runs, the app dies of the signal',
    fixture: FIXTURE,
    args: ['signal-exit-3'],
    link: ['signal-exit-3'],
    signal: 'SIGTERM',
    alone: true,
    expect: {
      code: null,
      signal: 'SIGTERM',
      stdout: 'ready\ncleanup (null, SIGTERM)\n',
      spans: ['before-signal'],
    },
  },
  {
    name: 'proper-lockfile (signal-exit 3 inside) holding a lock, SIGTERM: the app dies of the signal',
    fixture: FIXTURE,
    args: ['proper-lockfile'],
    link: ['proper-lockfile'],
    signal: 'SIGTERM',
    alone: true,
    expect: { code: null, signal: 'SIGTERM', stdout: 'locked true\nready\n', spans: ['before-signal'] },
  },
  {
    name: 'a SIGTERM handler added with prependOnceListener (ahead of all, removed as it runs): the app decides',
    fixture: FIXTURE,
    args: ['prepend-once'],
    signal: 'SIGTERM',
    alone: true,
    expect: {
      code: 0,
      stdout: 'ready\ngot SIGTERM, finishing\nfinished\n',
      spans: ['before-signal', 'on-SIGTERM'],
    },
  },
];

matrix("fault matrix: other libraries' signal listeners", LIBRARY_ROWS);

const ONCE = 'ready\ngot SIGTERM 1 time(s)\n';
const GROUP_ROWS: Row[] = [
  {
    name: 'SIGTERM sent to the whole process group (kill -- -PGID) reaches the app once',
    fixture: FIXTURE,
    args: ['count-signals'],
    signal: 'SIGTERM',
    signalTo: 'group',
    alone: true,
    expect: { code: 0, stdout: ONCE, spans: ['before-signal', 'on-SIGTERM-1'] },
  },
  {
    name: 'SIGTERM sent to the CLI alone is relayed to the app, once',
    fixture: FIXTURE,
    args: ['count-signals'],
    signal: 'SIGTERM',
    expect: { code: 0, stdout: ONCE, spans: ['before-signal', 'on-SIGTERM-1'] },
  },
];
if (hasTimeout)
  GROUP_ROWS.push({
    name: 'GNU timeout (signals its child, then the group) reaches the app once',
    fixture: FIXTURE,
    args: ['count-signals'],
    wrap: ['timeout', '-s', 'TERM', '4'],
    alone: true,
    expect: { code: 124, stdout: ONCE, spans: ['before-signal', 'on-SIGTERM-1'] },
  });

matrix('fault matrix: signals sent to the process group', GROUP_ROWS);

const EXIT_EVENT_ROWS: Row[] = [
  {
    name: "beforeExit reaches the app's listener once, and an unref'd timer does not fire",
    fixture: FIXTURE,
    args: ['before-exit-count'],
    alone: true,
    expect: { code: 0, stdout: 'done\nbeforeExit 1\n', spans: ['work'] },
  },
  {
    name: "pg's pool ended in beforeExit is ended once",
    fixture: FIXTURE,
    args: ['pg-pool-end'],
    link: ['pg'],
    alone: true,
    expect: { code: 0, stdout: 'done\nending the pool\n', spans: ['work'] },
  },
];

matrix('fault matrix: exit events', EXIT_EVENT_ROWS);

const STREAM_AND_GLOBAL_ROWS: Row[] = [
  {
    name: "stderr's reader gone, otel-run warns (export refused): the app runs on and ends with 0",
    fixture: FIXTURE,
    args: ['quiet-worker'],
    endpoint: 'refused',
    env: { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_RUN_FLUSH_TIMEOUT: '500' },
    stderrClosed: true,
    alone: true,
    expect: { code: 0, stdout: 'done\n', spans: [] },
  },
  {
    name: 'a read-only global fetch: left as it is, and the first request is traced',
    fixture: FIXTURE,
    args: ['fetch-read-only'],
    env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'undici' },
    alone: true,
    expect: {
      code: 0,
      stdout: `fetch: length 1, name fetch, source ${String(fetch).length} chars\nfirst fetch: 200 ok\n`,
      spans: ['GET'],
    },
  },
];

matrix('fault matrix: streams and globals the app owns', STREAM_AND_GLOBAL_ROWS);

const LIFECYCLE_ROWS: Row[] = [
  ...(['SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const).map(
    (sig): Row => ({
      name: `${sig}, no handler in the app: spans sent, the app dies of the signal`,
      args: ['signal-default'],
      signal: sig,
      alone: true,
      expect: { code: null, signal: sig, stdout: 'ready\n', spans: ['before-signal'] },
    }),
  ),
  {
    name: "SIGUSR1 sent to the CLI reaches the app's handler (the CLI opens no inspector)",
    fixture: FIXTURE,
    args: ['usr1-handler'],
    signal: 'SIGUSR1',
    expect: { code: 0, stdout: 'ready\ngot SIGUSR1\n', spans: ['before-signal', 'on-SIGUSR1'] },
  },
  ...(['SIGUSR1', 'SIGPIPE'] as const).map(
    (sig): Row => ({
      // The app resets the signal and raises it: nothing can run after that, in the app or in otel-run.
      name: `the app dies of ${sig}: the CLI dies of it too`,
      fixture: FIXTURE,
      args: ['die-by', sig],
      expect: { code: null, signal: sig, stdout: `dying of ${sig}\n`, spans: [] },
    }),
  ),
  {
    name: 'an endpoint that never answers the exit flush: the spans may have arrived, not "are lost"',
    args: ['burst'],
    appEnv: { BURST: '2000' },
    receiver: { hang: true },
    env: { OTEL_RUN_FLUSH_TIMEOUT: '500' },
    expect: {
      code: 0,
      stdout: 'burst done\n',
      spans: [],
      once: [/no answer within \d+ ms — they may not have arrived/],
    },
  },
];

matrix('fault matrix: process lifecycle', LIFECYCLE_ROWS);

// SIGKILL cannot be relayed: the CLI is gone, its child is re-parented. Node has no prctl(PR_SET_PDEATHSIG),
// so the child's preload notices (an unref'd check of process.ppid) and ends as SIGKILL would have ended it,
// after sending its spans. Bare there is no CLI to kill: the comparison is with `kill -9` of the app.
test('the CLI killed by SIGKILL: the app sends its spans and ends, not left orphaned', {
  skip:
    process.platform !== 'linux'
      ? '/proc is Linux only'
      : typeof (process as { execve?: unknown }).execve === 'function'
        ? 'with process.execve the command takes over the CLI process: there is no CLI left to kill (launcher-exec.test covers that path; Node 20 runs this one)'
        : undefined,
}, async () => {
  const dir = await copyFixture(APP);
  linkPackages(dir, ['@opentelemetry/api']);
  const receiver = await startReceiver();
  try {
    const cli = start(process.execPath, [BIN, process.execPath, 'app.js', 'signal-default'], {
      cwd: dir,
      timeoutMs: 60_000,
      env: hermeticEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        // Only the exit path can deliver the span; the run's guard (it kills the whole group at 60 s) comes
        // after the wait below.
        OTEL_BSP_SCHEDULE_DELAY: '120000',
      }),
    });
    await cli.waitForLine(/^ready$/);
    const app = Number(fs.readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim());
    assert.ok(app > 0, 'the app runs as the CLI child');
    const report = /(?:^|\0)OTEL_RUN_SIGNAL_REPORT=\d+:([^\0]+)/.exec(
      fs.readFileSync(`/proc/${app}/environ`, 'utf8'),
    )?.[1];
    assert.ok(report && fs.existsSync(report), 'the CLI gave its child a report file');
    cli.signal('SIGKILL');
    const r = await cli.exited;
    assert.equal(r.signal, 'SIGKILL', describeResult(r));
    // Readiness, not timing: wait for the app to be gone, for at most 20 s.
    for (let i = 0; i < 200 && alive(app); i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(!alive(app), `the app (pid ${app}) still runs without its CLI`);
    assert.ok(!fs.existsSync(path.dirname(report)), 'the orphaned app removed the CLI report folder');
    assert.ok(
      receiver.spans.some((s) => s.name === 'before-signal'),
      `span before-signal not received\n${describeResult(r)}`,
    );
  } finally {
    await receiver.close();
  }
});
