// Issue `otel-run bootstrap`, `doctor`, `env`, the startup line and the terminal view (`--view`), end to
// end: the built CLI on fixture apps copied to temp folders, a fake package manager on PATH that records its
// arguments, and a real OTLP receiver.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { catalogByName, lineFor, pinOf } from '../register/discovery/lines';
import { PrettyExporter, renderTrace } from '../register/export/pretty';
import { startGrpcReceiver } from './helpers/grpc-receiver';
import { type Receiver, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  copyFixture,
  describeResult,
  hermeticEnv,
  REGISTER,
  REPO_ROOT,
  type RunResult,
  run,
} from './helpers/run';

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

function otelRun(cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], { cwd, env: hermeticEnv(extra) });
}

/** A package manager stand-in: records its working directory and arguments, then exits with FAKE_PM_EXIT. */
function fakePackageManager(name: string): { dir: string; log: string; read(): string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-fake-pm-'));
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(
    path.join(dir, name),
    `#!/bin/sh\nprintf '%s\\n' "$PWD" "$@" > "${log}"\nexit \${FAKE_PM_EXIT:-0}\n`,
    { mode: 0o755 },
  );
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { dir, log, read: () => fs.readFileSync(log, 'utf8').trimEnd().split('\n') };
}

function withPath(dir: string): NodeJS.ProcessEnv {
  return { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` };
}

interface Lib {
  library: string;
  status: string;
  package: string | null;
  pin: string | null;
  installedVersion: string | null;
  reason: string;
}

describe('otel-run bootstrap', () => {
  // What bootstrap installs depends on the Node running it (the 0.30x line needs Node >= 22.15): the
  // expected pins come from the same catalog, for this Node.
  const pin = (name: string) => `@opentelemetry/instrumentation-${name}@${pinOf(catalogByName(name)!)}`;
  const nextLine = lineFor().name === '0.30x';
  const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  test('npm app: missing, installed, incompatible and shipped instrumentations, and a ready npm line', async () => {
    const app = await copyFixture('diag-express-pg');
    const r = await otelRun(app, ['bootstrap', '--json']);
    assert.equal(r.code, 0, describeResult(r));
    const report = JSON.parse(r.stdout) as {
      root: string;
      packageManager: { name: string };
      libraries: Lib[];
      install: string[];
      command: string[];
    };
    assert.equal(report.root, app);
    assert.equal(report.packageManager.name, 'npm');
    const by = (name: string) => report.libraries.find((l) => l.library === name);
    assert.equal(by('express')?.status, 'missing');
    assert.equal(by('express')?.package, '@opentelemetry/instrumentation-express');
    assert.equal(by('pg')?.status, 'missing');
    // 0.71.0 is the 0.2xx line's pin, an older release train on the 0.30x line.
    assert.equal(by('ioredis')?.status, nextLine ? 'outdated' : 'installed');
    assert.equal(by('ioredis')?.installedVersion, '0.71.0');
    assert.equal(by('pino')?.status, 'incompatible');
    assert.match(by('pino')?.reason ?? '', /pino@4\.0\.0 is outside .*>=5\.14\.0 <11/);
    assert.equal(by('undici')?.status, 'shipped');
    assert.equal(by('lodash'), undefined, 'a library without an instrumentation is not listed');
    assert.equal(by('mocha'), undefined, 'devDependencies are not considered');
    assert.equal(by('bunyan')?.status, 'outdated', 'an older 0.x line is upgraded to the pin');
    assert.equal(by('bunyan')?.installedVersion, '0.40.0');
    const expected = [pin('bunyan'), pin('express'), ...(nextLine ? [pin('ioredis')] : []), pin('pg')];
    assert.deepEqual(report.install, expected);
    assert.deepEqual(report.command, ['npm', 'install', ...report.install]);

    const text = await otelRun(app, ['bootstrap']);
    assert.equal(text.code, 0, describeResult(text));
    assert.match(text.stdout, new RegExp(`^ {2}npm install ${literally(expected.join(' '))}$`, 'm'));
    assert.match(text.stdout, /pino@4\.0\.0 +@opentelemetry\/instrumentation-pino +incompatible/);
  });

  test('--install runs npm install with the missing packages, in the app folder', async () => {
    const app = await copyFixture('diag-express-pg');
    const npm = fakePackageManager('npm');
    const r = await otelRun(app, ['bootstrap', '--install'], withPath(npm.dir));
    assert.equal(r.code, 0, describeResult(r));
    assert.deepEqual(npm.read(), [
      app,
      'install',
      pin('bunyan'),
      pin('express'),
      ...(nextLine ? [pin('ioredis')] : []),
      pin('pg'),
    ]);
    assert.match(r.stderr, /otel-run: running npm install /);
  });

  test('pnpm lockfile: pnpm add, libraries mapped through the AWS SDK v3 clients and redis 4', async () => {
    const app = await copyFixture('diag-pnpm');
    const text = await otelRun(app, ['bootstrap']);
    assert.equal(text.code, 0, describeResult(text));
    assert.match(text.stdout, /\(pnpm, pnpm-lock\.yaml\)/);
    assert.match(text.stdout, /aws-sdk@\^2\.1500\.0 .*unsupported .*v3 clients/);
    const line = `pnpm add ${pin('aws-sdk')} ${pin('express')} ${pin('redis')}`;
    assert.ok(text.stdout.includes(`  ${line}\n`), describeResult(text));

    const pnpm = fakePackageManager('pnpm');
    const r = await otelRun(app, ['bootstrap', '--install', '--json'], withPath(pnpm.dir));
    assert.equal(r.code, 0, describeResult(r));
    assert.deepEqual(pnpm.read(), [app, ...line.split(' ').slice(1)]);
    assert.equal(
      (JSON.parse(r.stdout) as { command: string[] }).command[0],
      'pnpm',
      'stdout is the JSON alone',
    );
  });

  test('a failing package manager, and no package.json, are reported', async () => {
    const app = await copyFixture('diag-pnpm');
    const pnpm = fakePackageManager('pnpm');
    const failed = await otelRun(app, ['bootstrap', '--install'], {
      ...withPath(pnpm.dir),
      FAKE_PM_EXIT: '3',
    });
    assert.equal(failed.code, 1, describeResult(failed));
    assert.match(failed.stderr, /otel-run: pnpm failed \(exit code 3\)/);

    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-no-pkg-'));
    after(() => fs.rmSync(empty, { recursive: true, force: true }));
    const none = await otelRun(empty, ['bootstrap']);
    assert.equal(none.code, 2, describeResult(none));
    assert.match(none.stderr, /otel-run: no package\.json in .* \(otel-run bootstrap\)\n {2}hint: /);
  });
});

describe('otel-run doctor', () => {
  const quiet = { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,undici' };

  test('a good setup: the endpoint answers a real empty export, secrets stay hidden, exit 0', async () => {
    const app = await copyFixture('diag-app');
    const before = receiver.requests.length;
    const env = {
      ...quiet,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s3cr3t-value',
    };
    const r = await otelRun(app, ['doctor', '--service-name', 'doc-good'], env);
    assert.equal(r.code, 0, describeResult(r));
    assert.match(
      r.stdout,
      /otlp http\/protobuf http:\/\/127\.0\.0\.1:\d+\/v1\/traces: answers \(200 in \d+ ms\)/,
    );
    assert.match(r.stdout, /service name +doc-good +flag/);
    assert.match(r.stdout, /OTEL_EXPORTER_OTLP_ENDPOINT +http:\/\/127\.0\.0\.1:\d+ +env/);
    assert.match(r.stdout, /OTEL_EXPORTER_OTLP_HEADERS +x-api-key=<redacted> +env/);
    assert.match(r.stdout, /will run: http, undici/);
    assert.match(r.stdout, /^All good/m);
    assert.ok(!r.stdout.includes('s3cr3t'), 'a secret value is never printed');
    const probe = receiver.requests.slice(before).find((q) => q.path === '/v1/traces');
    assert.ok(probe, 'the probe reached the receiver');
    assert.equal(probe.headers['x-api-key'], 's3cr3t-value', 'with the configured headers');
    assert.equal(probe.contentType, 'application/x-protobuf');

    const json = await otelRun(app, ['doctor', '--json'], env);
    assert.equal(json.code, 0, describeResult(json));
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      problems: number;
      sections: { title: string }[];
    };
    assert.equal(report.ok, true);
    assert.equal(report.problems, 0);
    assert.ok(report.sections.some((s) => s.title === 'Exporter'));
  });

  test('a gRPC endpoint is checked with a real Export call', async () => {
    const app = await copyFixture('diag-app');
    const grpc = await startGrpcReceiver();
    try {
      const r = await otelRun(app, ['doctor', '--exporter-otlp-protocol', 'grpc'], {
        ...quiet,
        OTEL_EXPORTER_OTLP_ENDPOINT: grpc.url,
      });
      assert.equal(r.code, 0, describeResult(r));
      assert.match(r.stdout, /✓ otlp grpc http:\/\/127\.0\.0\.1:\d+: answers \(grpc OK in \d+ ms\)/);
    } finally {
      await grpc.close();
    }
  });

  test('a down endpoint is a problem: exit 1 with the reason and a hint', async () => {
    const app = await copyFixture('diag-app');
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const r = await otelRun(app, ['doctor', '--timeout', '1000'], {
      ...quiet,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    assert.equal(r.code, 1, describeResult(r));
    assert.match(
      r.stdout,
      new RegExp(`✗ otlp http/protobuf http://127\\.0\\.0\\.1:${port}/v1/traces: nothing listens`),
    );
    assert.match(r.stdout, /ECONNREFUSED/);
    assert.match(r.stdout, /^1 problem found/m);
  });

  test('two copies of @opentelemetry/api, one newer than the registered one, are a problem', async () => {
    const app = await copyFixture('diag-dup-api');
    const r = await otelRun(app, ['doctor'], { ...quiet, OTEL_TRACES_EXPORTER: 'console' });
    assert.equal(r.code, 1, describeResult(r));
    assert.match(
      r.stdout,
      /✗ 2 copies of @opentelemetry\/api: 1\.9\.0 \(node_modules\/@opentelemetry\/api\), 1\.10\.0/,
    );
    assert.match(r.stdout, /spans made through 1\.10\.0 .* are lost/);
    assert.match(r.stdout, /hint: .*npm dedupe/);
  });

  for (const [lockfile, fix] of [
    [
      'pnpm-lock.yaml',
      /hint: pnpm links each package .*`pnpm add @opentelemetry\/api@1\.10\.0` .*"pnpm": \{ "overrides": \{ "@opentelemetry\/api": "1\.10\.0" \} \}/,
    ],
    [
      'yarn.lock',
      /hint: yarn does not install peer dependencies: `yarn add @opentelemetry\/api@1\.10\.0`, and `"resolutions": \{ "@opentelemetry\/api": "1\.10\.0" \}`/,
    ],
  ] as const) {
    test(`two copies of @opentelemetry/api under ${lockfile}: the fix is that package manager's`, async () => {
      const app = await copyFixture('diag-dup-api');
      fs.writeFileSync(path.join(app, lockfile), '');
      const r = await otelRun(app, ['doctor'], { ...quiet, OTEL_TRACES_EXPORTER: 'console' });
      assert.equal(r.code, 1, describeResult(r));
      assert.match(r.stdout, fix);
      assert.doesNotMatch(r.stdout, /npm dedupe/);
    });
  }

  test("an enabled instrumentor's own newer api copy is served, not called lost", async () => {
    // The app on 1.9, an instrumentor with a nested 1.10: the preload registers through 1.10 (sdk/api-copies.ts).
    const root = await copyFixture('api-copies');
    const app = path.join(root, 'app');
    const modules = path.join(REPO_ROOT, 'node_modules');
    fs.cpSync(
      path.join(modules, '@opentelemetry', 'api'),
      path.join(app, 'node_modules', '@opentelemetry', 'api'),
      {
        recursive: true,
      },
    );
    const image = path.join(app, 'node_modules', 'otel-instrumentor-image');
    fs.cpSync(path.join(root, 'image', 'otel-instrumentor-image'), image, { recursive: true });
    fs.cpSync(
      path.join(modules, 'otel-api-1-10'),
      path.join(image, 'node_modules', '@opentelemetry', 'api'),
      {
        recursive: true,
      },
    );
    const r = await otelRun(app, ['doctor'], {
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'image',
      OTEL_TRACES_EXPORTER: 'console',
    });
    assert.match(
      r.stdout,
      /2 copies of @opentelemetry\/api with different versions: 1\.9\.\d+ .*1\.10\.\d+/,
      describeResult(r),
    );
    assert.doesNotMatch(r.stdout, /are lost/);
  });

  test('a bundled entry file whose libraries are inside it is a problem', async () => {
    const app = await copyFixture('diag-bundle');
    const r = await otelRun(app, ['doctor'], { ...quiet, OTEL_TRACES_EXPORTER: 'console' });
    assert.equal(r.code, 1, describeResult(r));
    assert.match(r.stdout, /✗ server\.js looks bundled \(webpack, .*\) with express inside/);
  });

  test('each value says where it came from: flag, env, file, default; env inlines the file', async () => {
    const app = await copyFixture('diag-app');
    fs.writeFileSync(
      path.join(app, '.otel-runrc.json'),
      JSON.stringify({ serviceName: 'from-file', bspScheduleDelay: 200, propagators: ['b3'] }),
    );
    const file = path.join(app, '.otel-runrc.json');
    const env = { ...quiet, OTEL_TRACES_EXPORTER: 'console', OTEL_BSP_SCHEDULE_DELAY: '300' };
    const r = await otelRun(app, ['doctor', '--traces-sampler', 'always_on'], env);
    assert.equal(r.code, 0, describeResult(r));
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const row = (name: string, value: string, source: string) =>
      assert.match(r.stdout, new RegExp(`✓ ${esc(name)} +${esc(value)} +${esc(source)}$`, 'm'));
    row('service name', 'from-file', `file ${file}`);
    row('OTEL_PROPAGATORS', 'b3', `file ${file}`);
    row('OTEL_BSP_SCHEDULE_DELAY', '300', 'env');
    row('OTEL_TRACES_SAMPLER', 'always_on', 'flag');
    row('OTEL_LOG_LEVEL', 'warn', 'default');

    const printed = await otelRun(app, ['env'], { OTEL_BSP_SCHEDULE_DELAY: '300' });
    assert.equal(printed.code, 0, describeResult(printed));
    assert.match(printed.stdout, /^export OTEL_SERVICE_NAME='from-file'$/m);
    assert.match(printed.stdout, /^export OTEL_BSP_SCHEDULE_DELAY='300'$/m);
    assert.match(printed.stdout, /^export OTEL_RUN_RESOLVED='1'$/m);

    fs.writeFileSync(file, JSON.stringify({ serviceName: 3 }));
    const broken = await otelRun(app, ['doctor'], env);
    assert.equal(broken.code, 1, describeResult(broken));
    assert.match(broken.stdout, /✗ serviceName must be a string.*\.otel-runrc\.json/);
  });

  test('a bad value is a problem that names the variable', async () => {
    const app = await copyFixture('diag-app');
    const r = await otelRun(app, ['doctor'], {
      ...quiet,
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_BSP_SCHEDULE_DELAY: 'soon',
    });
    assert.equal(r.code, 1, describeResult(r));
    assert.match(r.stdout, /✗ OTEL_BSP_SCHEDULE_DELAY="soon" is not valid: expected a whole number/);
  });
});

describe('otel-run env', () => {
  test('pasted into a shell, it reproduces the run: same stdout, spans at the receiver, secret by reference', async () => {
    const app = await copyFixture('diag-app');
    const env = await otelRun(app, [
      'env',
      '--service-name',
      'diag-env',
      '--exporter-otlp-endpoint',
      receiver.url,
      '--bsp-schedule-delay',
      '50',
      '--enable',
      'http',
      '--exporter-otlp-headers',
      'x-token=from-flag-never-printed',
    ]);
    assert.equal(env.code, 0, describeResult(env));
    assert.ok(env.stdout.includes(`export NODE_OPTIONS='--require ${REGISTER}'\n`), describeResult(env));
    assert.match(env.stdout, /^export OTEL_SERVICE_NAME='diag-env'$/m);
    assert.match(env.stdout, /^export OTEL_EXPORTER_OTLP_HEADERS="\$OTEL_EXPORTER_OTLP_HEADERS"/m);
    assert.ok(!env.stdout.includes('never-printed'));
    assert.ok(!/OTEL_TRACES_EXPORTER/.test(env.stdout), 'values equal to the default are left out');

    // As a user would: eval "$(otel-run env …)"; node app.js, with the secret set in that shell only.
    const otelRunEnv = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} env --service-name diag-env --exporter-otlp-endpoint ${receiver.url} --bsp-schedule-delay 50 --enable http`;
    const node = JSON.stringify(process.execPath);
    const [traced, bare] = await Promise.all([
      run('bash', ['-c', `eval "$(${otelRunEnv})"; ${node} app.js`], {
        cwd: app,
        env: hermeticEnv({ OTEL_EXPORTER_OTLP_HEADERS: 'x-token=abc' }),
      }),
      run(process.execPath, ['app.js'], { cwd: app, env: hermeticEnv() }),
    ]);
    assert.equal(traced.code, 0, describeResult(traced));
    assert.equal(traced.stdout, bare.stdout);
    assert.equal(traced.stderr, '', describeResult(traced));
    const spans = await receiver.waitForSpans(
      (all) => all.filter((s) => s.resource['service.name'] === 'diag-env').length >= 6,
    );
    const ids = new Set(spans.filter((s) => s.resource['service.name'] === 'diag-env').map((s) => s.spanId));
    assert.equal(ids.size, 6, 'client and server spans of /a, /b and /c');
    const request = receiver.requests.find((q) => q.headers['x-token'] === 'abc');
    assert.ok(request, 'the referenced secret reached the exporter');
  });

  test('dockerfile and k8s forms, a preload path with spaces, --view, and bad values', async () => {
    const app = await copyFixture('diag-app');
    const where = '/srv/my app/node_modules/otel-run/register/index.cjs';
    const docker = await otelRun(app, ['env', '--format', 'dockerfile', '--register', where, '--view'], {
      OTEL_EXPORTER_OTLP_HEADERS: 'a=b',
    });
    assert.equal(docker.code, 0, describeResult(docker));
    assert.ok(
      docker.stdout.includes(
        'ENV NODE_OPTIONS="--require \\"/srv/my app/node_modules/otel-run/register/index.cjs\\"" \\\n',
      ),
      docker.stdout,
    );
    assert.match(docker.stdout, /^ {4}OTEL_TRACES_EXPORTER="pretty" \\$/m);
    assert.match(docker.stdout, /^ {4}OTEL_METRICS_EXPORTER="none" \\$/m, '--view turns metrics off');
    assert.match(
      docker.stdout,
      /^# OTEL_EXPORTER_OTLP_HEADERS is a secret: pass it when the container starts/m,
    );

    const k8s = await otelRun(app, ['env', '--format', 'k8s', '--view', '--traces-exporter', 'otlp'], {
      OTEL_EXPORTER_OTLP_HEADERS: 'a=b',
    });
    assert.equal(k8s.code, 0, describeResult(k8s));
    assert.ok(
      k8s.stdout.includes(`  - name: NODE_OPTIONS\n    value: ${JSON.stringify(`--require ${REGISTER}`)}\n`),
    );
    assert.ok(k8s.stdout.includes('  - name: OTEL_TRACES_EXPORTER\n    value: "otlp,pretty"\n'));
    assert.match(k8s.stdout, /secretKeyRef:\n {8}name: otel-run\n {8}key: OTEL_EXPORTER_OTLP_HEADERS/);
    assert.ok(!k8s.stdout.includes('a=b'));

    // The shell form survives Node's own NODE_OPTIONS parsing with a space in the path.
    const shell = await otelRun(app, ['env', '--register', where]);
    const parsed = await run('bash', ['-c', `${shell.stdout}\nprintf '%s' "$NODE_OPTIONS"`], {
      env: hermeticEnv(),
    });
    assert.equal(parsed.stdout, `--require "${where}"`);

    const relative = await otelRun(app, ['env', '--register', 'node_modules/otel-run/register/index.cjs']);
    assert.equal(relative.code, 2, describeResult(relative));
    assert.match(
      relative.stderr,
      /otel-run: --register node_modules\/otel-run\/register\/index\.cjs is not an absolute path/,
    );
    const badFormat = await otelRun(app, ['env', '--format', 'helm']);
    assert.equal(badFormat.code, 2, describeResult(badFormat));
    assert.match(badFormat.stderr, /helm/);
  });
});

describe('the startup line', () => {
  test('--verbose prints one line per process with version, service, exporter and instrumentors', async () => {
    const app = await copyFixture('diag-app');
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' };
    const child = `require('node:child_process').execFileSync(process.execPath, ['-e', ''], { stdio: 'inherit' })`;
    const r = await otelRun(app, ['--verbose', 'node', '-e', child], env);
    assert.equal(r.code, 0, describeResult(r));
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('otel-run: v'));
    assert.equal(lines.length, 2, describeResult(r));
    const pids = new Set<string>();
    for (const line of lines) {
      const m =
        /^otel-run: v(\d+\.\d+\.\d+) in pid (\d+); service diag-app; traces to otlp http\/protobuf to (\S+); metrics to otlp http\/protobuf to \S+\/v1\/metrics; logs to otlp http\/protobuf to \S+\/v1\/logs; instrumentors http$/.exec(
          line,
        );
      assert.ok(m, line);
      assert.equal(m[3], `${receiver.url}/v1/traces`);
      pids.add(m[2] as string);
    }
    assert.equal(pids.size, 2, 'one line per process');

    const silent = await otelRun(app, ['node', 'app.js'], env);
    assert.equal(silent.code, 0, describeResult(silent));
    assert.equal(silent.stderr, '', 'silent by default');
  });
});

describe('one service name for the startup line and the spans', () => {
  // The startup line and the resource once had a rule each, and with the detectors off they disagreed: the
  // line said the resource attributes' name, the spans carried the package's.
  const cases: { what: string; env: NodeJS.ProcessEnv; expect: string }[] = [
    {
      what: 'service.name in OTEL_RESOURCE_ATTRIBUTES with OTEL_NODE_RESOURCE_DETECTORS=none',
      env: { OTEL_NODE_RESOURCE_DETECTORS: 'none', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' },
      expect: 'from-attrs',
    },
    {
      what: 'OTEL_SERVICE_NAME over service.name in OTEL_RESOURCE_ATTRIBUTES',
      env: { OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' },
      expect: 'from-env',
    },
    { what: 'the package.json name when nothing names the service', env: {}, expect: 'diag-app' },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      // A receiver of its own: with the detectors off, nothing else tells this run's spans apart.
      const own = await startReceiver();
      try {
        const app = await copyFixture('diag-app');
        const env = {
          OTEL_EXPORTER_OTLP_ENDPOINT: own.url,
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
          ...c.env,
        };
        const r = await otelRun(app, ['--verbose', 'node', 'app.js'], env);
        assert.equal(r.code, 0, describeResult(r));
        const line = /^otel-run: v.*; service ([^;]+);/m.exec(r.stderr);
        assert.ok(line, describeResult(r));
        const spans = await own.waitForSpans((all) => all.length > 0);
        const names = [...new Set(spans.map((s) => s.resource['service.name']))];
        assert.deepEqual(names, [c.expect], 'the spans carry the expected service name');
        assert.equal(line[1], c.expect, 'the startup line names the service the spans carry');
      } finally {
        await own.close();
      }
    });
  }
});

describe("the SDK's own diagnostics under OTEL_LOG_LEVEL", () => {
  // Requiring node:http builds the SDK (http is instrumented), whose span limits re-read
  // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and complain in their own words; then the app says something of its own
  // through the API's diag logger that names a variable.
  const API = JSON.stringify(path.join(REPO_ROOT, 'node_modules', '@opentelemetry', 'api'));
  const script = `require('node:http'); require(${API}).diag.warn('OTEL_EXAMPLE_SETTING is deprecated (said by the app)');`;
  const ours = /^otel-run: OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="abc" is not valid: /m;
  const sdkDuplicate = /^otel-run: \[warn\] Unknown value 'abc' for OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT/m;
  const appMessage = /^otel-run: \[warn\] OTEL_EXAMPLE_SETTING is deprecated \(said by the app\)$/m;

  async function runWith(level: string): Promise<RunResult> {
    const app = await copyFixture('diag-app');
    const env = hermeticEnv({
      OTEL_LOG_LEVEL: level,
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: 'abc',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const r = await run(process.execPath, ['--require', REGISTER, '-e', script], { cwd: app, env });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, '', 'nothing on stdout');
    return r;
  }

  test('at warn, the SDK repeating our warning about a bad OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is dropped, nothing else', async () => {
    const r = await runWith('warn');
    assert.match(r.stderr, ours, describeResult(r));
    assert.doesNotMatch(r.stderr, sdkDuplicate, describeResult(r));
    assert.match(r.stderr, appMessage, describeResult(r));
  });

  test('at debug, every SDK message shows, the duplicate too', async () => {
    const r = await runWith('debug');
    assert.match(r.stderr, ours, describeResult(r));
    assert.match(r.stderr, sdkDuplicate, describeResult(r));
    assert.match(r.stderr, appMessage, describeResult(r));
  });
});

/** The tree lines of the first trace printed with `spans` spans. */
function treeOf(stderr: string, spans: number): string[] {
  const lines = stderr.split('\n');
  const start = lines.findIndex((l) =>
    new RegExp(`^trace [0-9a-f]{32} · diag-app · ${spans} spans · `).test(l),
  );
  assert.ok(start >= 0, stderr);
  return lines.slice(start + 1, start + 1 + spans);
}

const EXPECTED_TREE: RegExp[] = [
  /^GET +client +\d+\.\d+ m?s +method=GET url=http:\/\/127\.0\.0\.1:\d+\/a status=200$/,
  /^└─ GET +server +\d+\.\d+ m?s +method=GET path=\/a status=200$/,
  /^ {3}├─ GET +client .* url=http:\/\/127\.0\.0\.1:\d+\/b status=200$/,
  /^ {3}│ {2}└─ GET +server .* path=\/b status=200$/,
  /^ {3}└─ GET +client .* url=http:\/\/127\.0\.0\.1:\d+\/c status=200$/,
  /^ {6}└─ GET +server .* path=\/c status=200$/,
];

function assertTree(tree: string[], stderr: string): void {
  EXPECTED_TREE.forEach((re, i) => {
    assert.match(tree[i] ?? '', re, stderr);
  });
}

describe('the terminal view', () => {
  test('--view prints the known trace as an indented tree on stderr, without colour off a terminal', async () => {
    const app = await copyFixture('diag-app');
    const [r, bare] = await Promise.all([
      otelRun(app, ['--view', 'node', 'app.js'], { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' }),
      run(process.execPath, ['app.js'], { cwd: app, env: hermeticEnv() }),
    ]);
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, bare.stdout, 'stdout stays the app’s');
    const tree = treeOf(r.stderr, 6);
    assertTree(tree, r.stderr);
    assert.ok(!r.stderr.includes('\u001b['), 'no colour when stderr is not a terminal');
  });

  test('OTEL_TRACES_EXPORTER=pretty with the preload alone, through process.exit(), and FORCE_COLOR', async () => {
    const app = await copyFixture('diag-app');
    const r = await run(process.execPath, ['-r', REGISTER, 'app.js'], {
      cwd: app,
      env: hermeticEnv({
        OTEL_TRACES_EXPORTER: 'pretty',
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        DIAG_EXIT: '1',
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    const tree = treeOf(r.stderr, 6);
    assertTree(tree, r.stderr);

    // FORCE_COLOR (set by many CIs for the app's own tools) does not put escape sequences into a pipe.
    const piped = await otelRun(app, ['--view', 'node', 'app.js'], {
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      NO_COLOR: undefined,
      FORCE_COLOR: '1',
    });
    assert.equal(piped.code, 0, describeResult(piped));
    assertTree(treeOf(piped.stderr, 6), piped.stderr);
    assert.ok(!piped.stderr.includes('\u001b['), piped.stderr);
  });

  test('--view colours on a terminal (a pseudo-terminal from script(1))', {
    skip: fs.existsSync('/usr/bin/script') ? undefined : 'script(1) from util-linux is not installed',
  }, async () => {
    const app = await copyFixture('diag-app');
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, BIN, '--view', 'node', 'app.js'].map(quote).join(' ');
    const r = await run('script', ['-qefc', command, '/dev/null'], {
      cwd: app,
      env: hermeticEnv({
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        NO_COLOR: undefined,
        FORCE_COLOR: undefined,
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.ok(r.stdout.includes('\u001b[1mGET\u001b[22m'), describeResult(r));
  });

  test('spans held per trace: a child waits for its root, a late span prints as a continuation at exit', () => {
    const traceId = 'a'.repeat(32);
    const span = (id: string, name: string, parent: string | undefined, start: number): ReadableSpan =>
      ({
        name,
        kind: 0,
        spanContext: () => ({ traceId, spanId: id.repeat(16), traceFlags: 1 }),
        parentSpanContext: parent
          ? { traceId, spanId: parent.repeat(16), traceFlags: 1, isRemote: false }
          : undefined,
        startTime: [1000, start * 1e6],
        endTime: [1000, start * 1e6 + 5e6],
        duration: [0, 5e6],
        status: { code: 0 },
        attributes: {},
        links: [],
        events: [],
        ended: true,
        resource: { attributes: { 'service.name': 'unit' } },
        instrumentationScope: { name: 'unit' },
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0,
      }) as unknown as ReadableSpan;
    const printed: string[] = [];
    const view = new PrettyExporter((t) => printed.push(t), {
      name: (s) => s,
      dim: (s) => s,
      error: (s) => s,
      slow: (s) => s,
      attr: (s) => s,
    });
    view.add([span('2', 'child', '1', 2)]);
    assert.equal(printed.length, 0, 'held until its root ends');
    view.add([span('1', 'root', undefined, 1)]);
    assert.equal(printed.length, 1);
    assert.match(printed[0] ?? '', /^trace a{32} · unit · 2 spans · 6\.00 ms\nroot .*\n└─ child /);
    view.add([span('3', 'late', '1', 3)]);
    assert.equal(printed.length, 1, 'a span whose root already printed waits');
    view.flushHeld();
    assert.equal(printed.length, 2);
    assert.match(printed[1] ?? '', /^trace a{32} \(continued\) · unit · 1 span · 5\.00 ms\nlate /);
    assert.equal(renderTrace([]), '');
  });
});
