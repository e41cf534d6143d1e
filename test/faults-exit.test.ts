// The fault matrix, part one: every way out of a process, and an exporter that misbehaves. Part
// two (bad input, broken node_modules, instrumentors, other agents, strict mode, old Node) is
// faults-input.test.ts; the harness is helpers/faults.ts. Most rows keep the default OTEL_BSP_SCHEDULE_DELAY
// (5 s), so only the exit path can deliver their spans.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { APP, linkPackages, matrix, type Row } from './helpers/faults';
import { startReceiver } from './helpers/otlp-receiver';
import { copyFixture, describeResult, hermeticEnv, REGISTER, start } from './helpers/run';

const SHORT = { OTEL_RUN_FLUSH_TIMEOUT: '1000' };

export const EXIT_ROWS: Row[] = [
  { name: 'natural end', args: ['natural'], expect: { code: 0, stdout: 'done\n', spans: ['work'] } },
  {
    name: 'natural end with process.exitCode',
    args: ['exit-code-property'],
    expect: { code: 5, stdout: 'exitCode 5\n', spans: ['work'] },
  },
  {
    name: 'process.exit(3) at top level',
    args: ['exit-code'],
    expect: { code: 3, stdout: 'exiting with 3\n', spans: ['work'] },
  },
  {
    name: 'process.exit(4) inside an HTTP request handler',
    args: ['exit-in-handler'],
    expect: { code: 4, stdout: 'handling /quit\n', spans: ['listening', 'handler'] },
  },
  {
    name: 'uncaught exception',
    args: ['uncaught'],
    expect: { code: 1, stdout: 'about to throw\n', spans: ['work'] },
  },
  {
    name: 'unhandled rejection',
    args: ['unhandled'],
    expect: { code: 1, stdout: 'about to reject\n', spans: ['work'] },
  },
  {
    name: "natural end, then more work from the app's own beforeExit listener",
    args: ['before-exit-work'],
    env: { OTEL_RUN_FLUSH_TIMEOUT: '500' },
    expect: { code: 0, stdout: 'done\ncleaned up\n', spans: ['work', 'cleanup'] },
  },
  ...(['SIGTERM', 'SIGINT'] as const).flatMap((sig): Row[] => [
    {
      name: `${sig}, no handler in the app`,
      args: ['signal-default'],
      signal: sig,
      expect: { code: null, signal: sig, stdout: 'ready\n', spans: ['before-signal'] },
    },
    {
      name: `${sig}, the app's handler exits with its own code`,
      args: ['signal-handler-exit'],
      signal: sig,
      expect: {
        code: 42,
        stdout: `ready\ngot ${sig}, exiting with 42\n`,
        spans: ['before-signal', `on-${sig}`],
      },
    },
    {
      name: `${sig}, the app's handler does not exit: it runs on, then ends`,
      args: ['signal-handler-stay'],
      signal: sig,
      expect: {
        code: 0,
        stdout: `ready\ngot ${sig}, finishing later\nfinished\n`,
        spans: ['before-signal', `on-${sig}`, 'after-signal'],
      },
    },
  ]),
];

matrix('fault matrix: ways out', EXIT_ROWS);

// The exporter misbehaves. Rows that expect no span (nothing was accepted) check the app is unharmed and the
// run ends: the flush budget is shortened so a hang costs the suite 1 s, not the default 3 s.
const EXPORTER_ROWS: Row[] = (
  [
    ['refusing connections', { endpoint: 'refused' }, false],
    ['hanging', { receiver: { hang: true } }, false],
    ['answering 500', { receiver: { status: 500 } }, false],
    ['answering 429', { receiver: { status: 429 } }, false],
    ['answering 400', { receiver: { status: 400 } }, false],
    ['slow (300 ms)', { receiver: { delayMs: 300 } }, true],
    ['unknown host (DNS failure)', { endpoint: 'dns' }, false],
  ] as const
).flatMap(([fault, where, delivered]): Row[] => [
  {
    name: `endpoint ${fault}, natural end`,
    args: ['natural'],
    ...where,
    env: SHORT,
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: delivered ? ['work'] : [],
      stderr: delivered ? undefined : [/spans/],
    },
  },
  {
    name: `endpoint ${fault}, process.exit(3)`,
    args: ['exit-code'],
    ...where,
    env: SHORT,
    expect: {
      code: 3,
      stdout: 'exiting with 3\n',
      spans: delivered ? ['work'] : [],
      stderr: delivered ? undefined : [/spans/],
    },
  },
]);

EXPORTER_ROWS.push(
  {
    name: 'endpoint answering 429 once, then 200: the retry delivers',
    args: ['natural'],
    receiver: { status: (_path, n) => (n === 1 ? 429 : 200) },
    expect: { code: 0, stdout: 'done\n', spans: ['work'] },
  },
  {
    name: 'endpoint answering 503 while the app runs, up at exit',
    args: ['signal-handler-stay'],
    signal: 'SIGTERM',
    receiver: { status: (_path, n) => (n === 1 ? 503 : 200) },
    env: { OTEL_BSP_SCHEDULE_DELAY: '50' },
    expect: {
      code: 0,
      stdout: 'ready\ngot SIGTERM, finishing later\nfinished\n',
      spans: ['on-SIGTERM', 'after-signal'],
    },
  },
  {
    name: 'queue full under a burst: bounded, dropped spans counted under debug',
    args: ['burst'],
    appEnv: { BURST: '1000' },
    env: { OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_LOG_LEVEL: 'debug' },
    noisy: true,
    expect: {
      code: 0,
      stdout: 'burst done\n',
      spans: ['burst-0'],
      // The queue (10), the one batch in flight (10), and that batch again: the exit path has no loop turn to
      // read its answer, so it sends it once more (a duplicate rather than a loss; docs/faults.md).
      maxSpans: 30,
      stderr: [/\b9[89]\d spans (were )?dropped because the queue was full/],
    },
  },
);

matrix('fault matrix: the exporter', EXPORTER_ROWS);

// As PID 1 (a container's entry point) the kernel ignores a signal the process has no handler for, so a
// re-raised SIGTERM would leave it running: otel-run ends it with exit(128 + 15) once the spans are out.
// (Bare, the same app would ignore the SIGTERM: that difference is the point.) Needs a PID namespace.
function pid1Skip(): string | undefined {
  if (process.platform !== 'linux') return 'PID namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'unshare --pid needs root';
  const probe = spawnSync('unshare', ['-fp', '--mount-proc', 'true'], { stdio: 'ignore', timeout: 10_000 });
  return probe.status === 0 ? undefined : 'unshare --pid is not available here';
}

test('SIGTERM, no handler, as PID 1: spans sent, then exit code 143', { skip: pid1Skip() }, async () => {
  const dir = await copyFixture(APP);
  linkPackages(dir, ['@opentelemetry/api']);
  const receiver = await startReceiver();
  try {
    const child = start('unshare', ['-fp', '--mount-proc', process.execPath, 'app.js', 'signal-default'], {
      cwd: dir,
      timeoutMs: 30_000,
      env: hermeticEnv({
        NODE_OPTIONS: `--require ${REGISTER}`,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      }),
    });
    await child.waitForLine(/^ready$/);
    // The app is unshare's child: PID 1 inside, some other number out here.
    const inner = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim());
    process.kill(inner, 'SIGTERM');
    const r = await child.exited;
    assert.equal(r.code, 143, describeResult(r));
    assert.equal(r.stdout, 'ready\n', describeResult(r));
    assert.ok(
      receiver.spans.some((s) => s.name === 'before-signal'),
      describeResult(r),
    );
  } finally {
    await receiver.close();
  }
});
