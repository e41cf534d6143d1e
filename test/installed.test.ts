// otel-run installed as users install it (test/helpers/installed.ts): the packed tarball, production
// dependencies only, beside an express + pino app and the instrumentation packages a user on this Node gets
// today, in the layouts npm, pnpm and yarn classic make. The checkout's node_modules is out of reach, so
// discovery cannot fill in what the app lacks. Runs on whatever Node runs the test runner: scripts/test.js
// runs it on 20, 22 and 24.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  EXPRESS_PINO_APP,
  type InstalledApp,
  installApp,
  NEW_LINE,
  NODE_MAJOR,
  otelRun,
  userLibraries,
  yarnOtelRun,
} from './helpers/installed';
import { type ReceivedLog, type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { describeResult, type RunResult } from './helpers/run';

const SERVER = 2;
const EXPRESS_SCOPE = '@opentelemetry/instrumentation-express';
/** What express 4's instrumentation makes for one GET /hello/:name (express.init and query are its own middleware). */
const EXPRESS_SPANS = ['middleware - query', 'middleware - expressInit', 'request handler - /hello/:name'];

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

let counter = 0;
function serviceName(): string {
  return `installed-${process.pid}-${++counter}`;
}

/** Runs the app under otel-run and checks every express span and the trace ids in its pino lines. */
async function expectExpressAndPino(app: InstalledApp, label: string): Promise<void> {
  const service = serviceName();
  const r = await otelRun(app, ['node', 'app.js'], {
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  });
  assert.equal(r.code, 0, describeResult(r));
  assert.equal(r.stderr, '', `${label}: otel-run said something\n${describeResult(r)}`);
  const mine = (all: ReceivedSpan[]) => all.filter((s) => s.resource['service.name'] === service);
  const servers = (all: ReceivedSpan[]) =>
    mine(all).filter(
      (s) =>
        s.kind === SERVER &&
        String(s.attributes['url.path'] ?? s.attributes['http.target']).startsWith('/hello/'),
    );
  const spans = await receiver
    .waitForSpans(
      (all) =>
        servers(all).length === 2 && mine(all).filter((s) => s.scope.name === EXPRESS_SCOPE).length >= 6,
      10_000,
    )
    .then(mine, () => mine(receiver.spans));
  const express = spans.filter((s) => s.scope.name === EXPRESS_SCOPE);
  const roots = servers(spans);
  assert.equal(roots.length, 2, `${label}: http server spans\n${listSpans(spans)}\n${describeResult(r)}`);
  for (const root of roots) {
    const names = express
      .filter((s) => s.traceId === root.traceId)
      .map((s) => s.name)
      .sort();
    assert.deepEqual(
      names,
      [...EXPRESS_SPANS].sort(),
      `${label}: express spans of one request\n${listSpans(spans)}`,
    );
  }
  const logs = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; trace_id?: string });
  const hellos = logs.filter((l) => l.msg === 'hello');
  assert.equal(hellos.length, 2, r.stdout);
  for (const line of hellos)
    assert.ok(
      roots.some((s) => s.traceId === line.trace_id),
      `${label}: pino line without the request's trace_id: ${JSON.stringify(line)}`,
    );
  counts.push(
    `${label}: ${spans.length} spans (${express.length} express), ${hellos.filter((l) => l.trace_id).length}/2 pino lines with trace_id`,
  );
}

const counts: string[] = [];
after(() => {
  // The layout × Node table in the note is made of these lines.
  if (counts.length)
    process.stdout.write(`# Node ${process.versions.node}\n${counts.map((c) => `#   ${c}`).join('\n')}\n`);
});

function listSpans(spans: ReceivedSpan[]): string {
  return spans.map((s) => `  ${s.scope.name}: ${s.name}`).join('\n') || '  (no spans)';
}

const APP = { 'app.js': EXPRESS_PINO_APP };
/** One request to itself through node:http, which otel-run instruments with what it ships. */
const EXPRESS_LESS_APP = `'use strict';
const http = require('node:http');
const server = http.createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/' }, (res) => {
    res.resume();
    res.on('end', () => { console.log('done'); server.close(); });
  });
});
`;
const line = NEW_LINE ? '0.30x' : '0.2xx';

// Two at a time: each install waits mostly on the disk and the registry's cache.
describe(`installed from the tarball on Node ${NODE_MAJOR} (${line} instrumentations)`, {
  concurrency: 2,
}, () => {
  for (const layout of ['npm', 'pnpm', 'pnpm-hoisted'] as const) {
    test(`${layout}: every express span arrives and pino lines carry the trace id`, async () => {
      const app = await installApp(layout, userLibraries(), APP);
      await expectExpressAndPino(app, `${layout}, Node ${process.versions.node}, ${line}`);
    });
  }

  test('npm, logs exporter on: pino records reach the receiver with their trace id', async () => {
    // 0.2xx bridges ask @opentelemetry/api-logs for their logger, 0.30x ones api 1.10's own `logs`.
    const app = await installApp('npm', userLibraries(), APP);
    const service = serviceName();
    const r = await otelRun(app, ['node', 'app.js'], {
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_BLRP_SCHEDULE_DELAY: '100',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'otlp',
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stderr, '', describeResult(r));
    const mine = (all: ReceivedLog[]) =>
      all.filter((l) => l.resource['service.name'] === service && l.body === 'hello');
    const logs = await receiver
      .waitForLogs((all) => mine(all).length === 2, 10_000)
      .then(mine, () => mine(receiver.logs));
    assert.equal(logs.length, 2, `log records at the receiver\n${describeResult(r)}`);
    const hasSpan = (all: ReceivedSpan[], l: ReceivedLog) =>
      all.some((s) => s.traceId === l.traceId && s.spanId === l.spanId);
    const spans = await receiver
      .waitForSpans((all) => logs.every((l) => hasSpan(all, l)), 10_000)
      .catch(() => receiver.spans);
    for (const record of logs)
      assert.ok(hasSpan(spans, record), `a record without its span: ${JSON.stringify(record)}`);
    counts.push(
      `npm logs, Node ${process.versions.node}, ${line}: ${logs.length} pino records at the receiver`,
    );
  });

  test('yarn classic: every express span arrives and pino lines carry the trace id', async () => {
    const app = await installApp('yarn', userLibraries(), APP);
    await expectExpressAndPino(app, `yarn, Node ${process.versions.node}, ${line}`);
  });

  test('yarn berry, nodeLinker: node-modules: every express span arrives and pino lines carry the trace id', async () => {
    const app = await installApp('yarn-berry', userLibraries(), APP);
    await expectExpressAndPino(app, `yarn berry, Node ${process.versions.node}, ${line}`);
  });

  for (const layout of ['npm', 'pnpm', 'yarn'] as const) {
    test(`${layout} workspace: every express span arrives and pino lines carry the trace id`, async () => {
      const app = await installApp(layout, userLibraries(), APP, { workspace: true });
      await expectExpressAndPino(app, `${layout} workspace, Node ${process.versions.node}, ${line}`);
    });
  }

  test('yarn classic, the app on api 1.9: one line names the instrumentor and the fix, the app runs', {
    skip: NEW_LINE ? false : 'the 0.2xx base works with any 1.x api',
  }, async () => {
    // Yarn installs no peer dependencies and hoists the app's 1.9 to the root: the 0.30x base (which reads
    // api.logs, new in 1.10, in its constructor) resolves it, and cannot start.
    const app = await installApp('yarn', { ...userLibraries(), '@opentelemetry/api': '1.9.0' }, APP);
    const r: RunResult = await otelRun(app, ['node', 'app.js'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: serviceName(),
    });
    assert.equal(r.code, 0, describeResult(r));
    const express = r.stderr.split('\n').filter((l) => l.includes('instrumentor express'));
    assert.equal(express.length, 1, describeResult(r));
    assert.match(
      express[0] ?? '',
      /instrumentor express \(@opentelemetry\/instrumentation-express@0\.72\.0\) failed: its @opentelemetry\/instrumentation 0\.30\d\.\d+ needs @opentelemetry\/api >= 1\.10 but resolves 1\.9\.0 .*add @opentelemetry\/api@\^1\.10 to the app's dependencies/,
    );
    assert.match(r.stdout, /"msg":"hello"/);
  });

  test('npm: a new instrumentation beside an old one (express 0.30x line, pino 0.2xx line)', {
    skip: NEW_LINE ? false : 'the 0.30x line needs Node >= 22.15',
  }, async () => {
    const deps = {
      ...userLibraries('new'),
      '@opentelemetry/instrumentation-pino': userLibraries('old')[
        '@opentelemetry/instrumentation-pino'
      ] as string,
    };
    const app = await installApp('npm', deps, APP);
    await expectExpressAndPino(app, `npm mix, Node ${process.versions.node}`);
  });
});

describe("Yarn Plug'n'Play", () => {
  // A real .pnp.cjs sets process.versions.pnp when Node preloads it (yarn puts `--require .pnp.cjs` in
  // NODE_OPTIONS, before ours); this one does only that, so the test needs no yarn berry install.
  const PNP = "'use strict';\nprocess.versions.pnp = '3';\n";
  let app: InstalledApp;
  before(async () => {
    app = await installApp('npm', {}, { 'app.js': "console.log('ran');\n", '.pnp.cjs': PNP });
  });

  test('the preload says it is not supported, once, and the app runs', async () => {
    const r = await otelRun(app, ['node', 'app.js'], {
      NODE_OPTIONS: `--require ${path.join(app.dir, '.pnp.cjs')}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'ran\n');
    assert.match(
      r.stderr,
      /^otel-run: Yarn Plug'n'Play is not supported: .*nodeLinker: node-modules.* — this process runs untraced\n$/,
    );
  });

  test('a real yarn berry PnP install: `yarn otel-run node app.js` says it, once, and the app runs', async () => {
    const pnp = await installApp(
      'yarn-pnp',
      { express: userLibraries().express as string },
      {
        'app.js': "require('express');\nconsole.log('ran');\n",
      },
    );
    assert.ok(!fs.existsSync(path.join(pnp.dir, 'node_modules', 'express')), 'PnP installs no node_modules');
    const r = await yarnOtelRun(pnp, ['node', 'app.js'], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'ran\n');
    assert.match(
      r.stderr,
      /^otel-run: Yarn Plug'n'Play is not supported: .* — this process runs untraced\n$/,
    );
  });

  for (const command of ['list', 'bootstrap']) {
    test(`otel-run ${command} says it is not supported instead of answering`, async () => {
      const r = await otelRun(app, [command]);
      assert.equal(r.code, 1, describeResult(r));
      assert.match(r.stderr, /Yarn Plug'n'Play is not supported: .*nodeLinker: node-modules/);
      assert.ok(fs.existsSync(path.join(app.dir, '.pnp.cjs')));
    });
  }

  test('otel-run doctor reports it as a problem', async () => {
    const r = await otelRun(app, ['doctor', '--timeout', '200']);
    assert.notEqual(r.code, 0, describeResult(r));
    assert.match(r.stdout, /✗ Yarn Plug'n'Play is not supported: .*\.pnp\.cjs/);
    assert.match(r.stdout, /hint: set `nodeLinker: node-modules`/);
    assert.doesNotMatch(r.stdout, /All good/);
  });
});

describe('the gRPC exporters are not installed with otel-run', () => {
  test('OTEL_EXPORTER_OTLP_PROTOCOL=grpc without them: one line names the package to install, the app runs', async () => {
    const app = await installApp('npm', {}, { 'app.js': EXPRESS_LESS_APP });
    assert.ok(!fs.existsSync(path.join(app.dir, 'node_modules', '@grpc')), 'nothing of gRPC is installed');
    const r = await otelRun(app, ['node', 'app.js'], {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, describeResult(r));
    assert.match(
      lines[0] ?? '',
      /@opentelemetry\/exporter-trace-otlp-grpc is not installed \(otel-run does not ship the gRPC exporters\) — install it in the app: npm install @opentelemetry\/exporter-trace-otlp-grpc@0\.223\.0, or use OTEL_EXPORTER_OTLP_PROTOCOL=http\/protobuf/,
    );
  });
});
