// The launcher on Node >= 22.15, where process.execve exists: `otel-run node app.js` becomes the app (same
// PID, its own exit status and signals, no relay), and whatever execve could not run is spawned as before,
// never handed to execve (a failed execve aborts Node 22 and 24 with SIGABRT instead of throwing).
// These run only on a Node with process.execve on Linux (scripts/test.js runs every file with the Node it
// runs on: `node22 scripts/test.js launcher-exec`); elsewhere they are skipped with the reason.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  copyFixture,
  describeResult,
  hermeticEnv,
  REPO_ROOT,
  type RunResult,
  run,
  start,
} from './helpers/run';

const hasExecve = typeof (process as { execve?: unknown }).execve === 'function';
const skip = !hasExecve
  ? `process.execve is missing on Node ${process.version} (added in 22.15.0): run this file with Node 22`
  : process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)
    ? `the launcher uses execve on Linux x64/arm64 only (here ${process.platform} ${process.arch})`
    : false;

let receiver: Receiver;
let app: string;

before(async () => {
  if (skip) return;
  receiver = await startReceiver();
  app = await copyFixture('exec-app');
});
after(async () => {
  await receiver?.close();
});

/** The running Node first on PATH, so `otel-run node …` runs this same Node (with execve) again. */
function envFor(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return hermeticEnv({
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none',
    OTEL_NODE_RESOURCE_DETECTORS: 'env',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    ...extra,
  });
}

let serial = 0;
function serviceName(): string {
  serial += 1;
  return `exec-${process.pid}-${serial}`;
}

async function spanNamed(service: string, name: string): Promise<void> {
  await receiver.waitForSpans((all) =>
    all.some((s) => s.resource['service.name'] === service && s.name === name),
  );
}

/** Starts the launcher and resolves with its PID and how it ended. */
async function launch(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ pid: number; r: RunResult }> {
  const started = start(process.execPath, [BIN, ...args], { cwd: app, env: envFor(extra), timeoutMs: 30000 });
  return { pid: started.pid, r: await started.exited };
}

function appPid(r: RunResult): number {
  const m = /^pid (\d+)$/m.exec(r.stdout);
  assert.ok(m, describeResult(r));
  return Number(m[1]);
}

describe('on Node with process.execve, the command takes over the launcher process', { skip }, () => {
  test('same PID, stdout, exit code 0, and the span arrives', async () => {
    const service = serviceName();
    const { pid, r } = await launch(['node', 'app.js', 'plain'], { OTEL_SERVICE_NAME: service });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stderr, '', describeResult(r));
    assert.equal(appPid(r), pid, 'the app runs in the launcher process');
    assert.match(r.stdout, /^done$/m);
    await spanNamed(service, 'exec.plain');
  });

  test('flags before the command: the same hand-over', async () => {
    const service = serviceName();
    const { pid, r } = await launch(['--service-name', service, 'node', 'app.js', 'plain']);
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(appPid(r), pid);
    await spanNamed(service, 'exec.plain');
  });

  test('the exit code is the app own', async () => {
    const service = serviceName();
    const { pid, r } = await launch(['node', 'app.js', 'exit7'], { OTEL_SERVICE_NAME: service });
    assert.equal(r.code, 7, describeResult(r));
    assert.equal(appPid(r), pid);
    await spanNamed(service, 'exec.exit7');
  });

  test('an app that dies of a signal: the launcher PID dies of it', async () => {
    const { pid, r } = await launch(['node', 'app.js', 'signal'], { OTEL_SERVICE_NAME: serviceName() });
    assert.equal(r.signal, 'SIGTERM', describeResult(r));
    assert.equal(r.code, null);
    assert.equal(appPid(r), pid);
    assert.doesNotMatch(r.stdout, /still alive/);
  });

  test('a signal sent to the launcher PID reaches the app once, natively', async () => {
    const started = start(process.execPath, [BIN, 'node', 'app.js', 'wait'], {
      cwd: app,
      env: envFor({ OTEL_SERVICE_NAME: serviceName() }),
      timeoutMs: 30000,
    });
    await started.waitForLine(/^ready$/);
    process.kill(started.pid, 'SIGTERM');
    const r = await started.exited;
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(appPid(r), started.pid);
    assert.match(r.stdout, /^SIGTERM x1$/m);
  });

  test('a program that is not Node starts with SIGPIPE at its default, as a spawned one does', async () => {
    // Node ignores SIGPIPE and SIGXFSZ, and an ignored signal would stay ignored across execve: a shell
    // pipeline in the command would then see EPIPE errors instead of ending quietly.
    const script = 'grep SigIgn /proc/self/status; echo "pid $$"';
    const { pid, r } = await launch(['sh', '-c', script]);
    const plain = await run('sh', ['-c', script], { cwd: app, env: hermeticEnv() });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(appPid(r), pid);
    assert.equal(/^SigIgn:.*$/m.exec(r.stdout)?.[0], /^SigIgn:.*$/m.exec(plain.stdout)?.[0]);
  });
});

describe('what execve could not run is spawned as before, never aborts', { skip }, () => {
  test('command not found: 127 and the message', async () => {
    const { r } = await launch(['no-such-command-here']);
    assert.equal(r.code, 127, describeResult(r));
    assert.equal(r.stderr, 'otel-run: command not found: no-such-command-here\n');
  });

  test('not executable: 126', async () => {
    fs.writeFileSync(path.join(app, 'plain.txt'), 'not a program\n', { mode: 0o644 });
    const { r } = await launch(['./plain.txt']);
    assert.equal(r.code, 126, describeResult(r));
    assert.match(r.stderr, /otel-run: command not executable: \.\/plain\.txt/);
  });

  test('the permission model without --allow-child-process: 126 with its reason, no hint of a bug', async () => {
    const r = await run(process.execPath, ['--permission', '--allow-fs-read=*', BIN, 'node', 'app.js'], {
      cwd: app,
      env: envFor(),
    });
    assert.equal(r.code, 126, describeResult(r));
    assert.match(r.stderr, /^otel-run: cannot start node: .*--allow-child-process/);
    assert.doesNotMatch(r.stderr, /bug|ExperimentalWarning/);
  });

  test('a script without #! line runs through /bin/sh, as spawn runs it', async () => {
    const { pid, r } = await launch(['./no-shebang.sh']);
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'ran by /bin/sh\n');
    assert.ok(pid > 0);
  });

  for (const script of ['missing-interpreter.sh', 'crlf.sh']) {
    test(`${script}: an interpreter that is not there is 127, not an abort`, async () => {
      const { r } = await launch([`./${script}`]);
      assert.notEqual(r.signal, 'SIGABRT', describeResult(r));
      assert.equal(r.code, 127, describeResult(r));
      assert.equal(r.stderr, `otel-run: command not found: ./${script}\n`);
    });
  }
});
