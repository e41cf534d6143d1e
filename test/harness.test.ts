// The test harness itself: the OTLP receiver decodes what the official exporters send, and the child runner
// reports exit codes, signals and output as a plain run would.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ReceivedLog, type ReceivedMetric, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { postgresUnavailable, startPostgres } from './helpers/postgres';
import { BIN, describeResult, FIXTURES, hermeticEnv, REGISTER, REPO_ROOT, run, start } from './helpers/run';

// Exports through the SDK's own exporter, so the receiver is checked against what real exporters
// send rather than against bodies it encoded itself. Prints each export's ExportResultCode
// (0 success, 1 failed) so tests can also see how the exporter judged our responses.
const EXPORT_SCRIPT = `
const { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require(process.env.TEST_EXPORTER);
const exporter = new OTLPTraceExporter({
  url: process.env.TEST_RECEIVER_URL + '/v1/traces',
  compression: process.env.TEST_COMPRESSION || 'none',
});
const original = exporter.export.bind(exporter);
exporter.export = (spans, done) => original(spans, (result) => {
  console.log('export-result ' + result.code);
  done(result);
});
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'helpers-selftest', 'deployment.environment.name': 'test' }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('helpers-selftest-scope', '1.2.3');
const parent = tracer.startSpan('GET /selftest', {
  kind: SpanKind.SERVER,
  attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200, ratio: 0.5, ok: true, tags: ['a', 'b'] },
});
const child = tracer.startSpan('db.query', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, parent));
child.addEvent('retry', { attempt: 2 });
child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
child.end();
parent.end();
provider.shutdown().then(() => console.log('shutdown-done'));
`;

function exportSpans(receiver: Receiver, exporter: string, compression = 'none') {
  return run(process.execPath, ['-e', EXPORT_SCRIPT], {
    cwd: REPO_ROOT,
    env: hermeticEnv({
      TEST_RECEIVER_URL: receiver.url,
      TEST_EXPORTER: exporter,
      TEST_COMPRESSION: compression,
    }),
  });
}

// A killed orphan stays a zombie where PID 1 does not reap (as in many containers): that is dead.
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

// Same idea for metrics and logs; these SDK packages come in through the dev dependencies.
const METRICS_LOGS_SCRIPT = `
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-' + process.env.TEST_FLAVOUR);
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-' + process.env.TEST_FLAVOUR);
const url = process.env.TEST_RECEIVER_URL;
const resource = resourceFromAttributes({ 'service.name': 'helpers-selftest' });
const reader = new PeriodicExportingMetricReader({
  exporter: new OTLPMetricExporter({ url: url + '/v1/metrics' }),
  exportIntervalMillis: 60000,
});
const meterProvider = new MeterProvider({ resource, readers: [reader] });
const meter = meterProvider.getMeter('selftest-meter', '0.1.0');
meter.createCounter('requests').add(3, { route: '/a' });
meter.createUpDownCounter('queue.depth').add(-2);
meter.createHistogram('duration', { unit: 'ms' }).record(12.5);
const exporter = new OTLPLogExporter({ url: url + '/v1/logs' });
const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
const logger = loggerProvider.getLogger('selftest-logger');
logger.emit({ severityNumber: 9, severityText: 'INFO', body: 'hello', attributes: { ids: [1, 2] } });
logger.emit({ body: { nested: { a: 1 } } });
Promise.all([meterProvider.shutdown(), loggerProvider.shutdown()]).then(() => console.log('shutdown-done'));
`;

const PROTO = '@opentelemetry/exporter-trace-otlp-proto';
const JSON_HTTP = '@opentelemetry/exporter-trace-otlp-http';
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

describe('otlp receiver', { timeout: 60000 }, () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  for (const [label, exporter, contentType] of [
    ['protobuf', PROTO, 'application/x-protobuf'],
    ['json', JSON_HTTP, 'application/json'],
  ] as const) {
    test(`decodes a real ${label} export from the SDK exporter`, async () => {
      receiver.reset();
      const result = await exportSpans(receiver, exporter);
      assert.equal(result.code, 0, describeResult(result));
      // Our empty 200 response must be one the real exporter counts as success.
      assert.match(result.stdout, /^export-result 0$/m, describeResult(result));

      const spans = await receiver.waitForSpans((s) => s.length >= 2);
      assert.deepEqual(receiver.errors, []);
      const server = spans.find((s) => s.name === 'GET /selftest');
      const client = spans.find((s) => s.name === 'db.query');
      assert.ok(server && client, JSON.stringify(spans, null, 2));

      assert.equal(server.kind, 2);
      assert.equal(client.kind, 3);
      assert.match(server.traceId, HEX32);
      assert.match(server.spanId, HEX16);
      assert.equal(server.parentSpanId, '');
      assert.equal(client.traceId, server.traceId);
      assert.equal(client.parentSpanId, server.spanId);
      assert.deepEqual(server.attributes, {
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        ratio: 0.5,
        ok: true,
        tags: ['a', 'b'],
      });
      assert.deepEqual(client.status, { code: 2, message: 'boom' });
      assert.deepEqual(
        client.events.map((e) => [e.name, e.attributes]),
        [['retry', { attempt: 2 }]],
      );
      assert.equal(server.resource['service.name'], 'helpers-selftest');
      assert.deepEqual(server.scope, { name: 'helpers-selftest-scope', version: '1.2.3' });
      assert.match(server.startTimeUnixNano, /^\d{19}$/);
      assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano));
      assert.equal(server.contentType, contentType);
      assert.ok(receiver.requests.every((r) => r.path === '/v1/traces' && r.status === 200));
      assert.equal(receiver.requests[0]?.contentType, contentType);
    });
  }

  test('metrics and logs flatten the same from protobuf and from JSON', async () => {
    const seen: Record<string, { metrics: unknown; logs: unknown }> = {};
    for (const flavour of ['proto', 'http']) {
      receiver.reset();
      const result = await run(process.execPath, ['-e', METRICS_LOGS_SCRIPT], {
        cwd: REPO_ROOT,
        env: hermeticEnv({ TEST_RECEIVER_URL: receiver.url, TEST_FLAVOUR: flavour }),
      });
      assert.equal(result.code, 0, describeResult(result));
      const metrics = await receiver.waitForMetrics((m) => m.length >= 3);
      const logs = await receiver.waitForLogs((l) => l.length >= 2);
      assert.deepEqual(receiver.errors, []);
      const withoutTimes = (o: object) =>
        JSON.parse(
          JSON.stringify(o, (k, v) =>
            /^(start|observed)?[tT]imeUnixNano$|^contentType$/.test(k) ? undefined : v,
          ),
        );
      seen[flavour] = { metrics: withoutTimes(metrics), logs: withoutTimes(logs) };
    }
    assert.deepEqual(seen.proto, seen.http);

    const { metrics, logs } = seen.proto as { metrics: ReceivedMetric[]; logs: ReceivedLog[] };
    const byName = new Map(metrics.map((m) => [m.name, m]));
    assert.equal(byName.get('requests')?.kind, 'sum');
    assert.equal(byName.get('requests')?.isMonotonic, true);
    assert.equal(byName.get('queue.depth')?.isMonotonic, false);
    assert.deepEqual(byName.get('requests')?.dataPoints, [{ attributes: { route: '/a' }, asDouble: 3 }]);
    const histogram = byName.get('duration');
    assert.ok(histogram, JSON.stringify(metrics));
    assert.equal(histogram.kind, 'histogram');
    assert.equal(histogram.unit, 'ms');
    assert.equal((histogram.dataPoints[0] as { count: number }).count, 1);
    assert.deepEqual(byName.get('requests')?.scope, { name: 'selftest-meter', version: '0.1.0' });
    assert.equal(byName.get('requests')?.resource['service.name'], 'helpers-selftest');
    assert.deepEqual(
      logs.map((l) => [l.body, l.severityText, l.severityNumber, l.attributes]),
      [
        ['hello', 'INFO', 9, { ids: [1, 2] }],
        [{ nested: { a: 1 } }, undefined, undefined, {}],
      ],
    );
  });

  test('decodes a gzip-compressed export', async () => {
    receiver.reset();
    const result = await exportSpans(receiver, PROTO, 'gzip');
    assert.equal(result.code, 0, describeResult(result));
    const spans = await receiver.waitForSpans((s) => s.length >= 2);
    assert.deepEqual(receiver.errors, []);
    assert.equal(receiver.requests[0]?.encoding, 'gzip');
    assert.deepEqual(spans.map((s) => s.name).sort(), ['GET /selftest', 'db.query']);
  });

  test('a malformed body is answered 400 and recorded, and the receiver keeps working', async () => {
    receiver.reset();
    const bad = await fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array([0x0a, 0xff, 0xff, 0xff]),
    });
    assert.equal(bad.status, 400);
    const badJson = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceLogs": [',
    });
    assert.equal(badJson.status, 400);
    assert.equal(receiver.errors.length, 2, receiver.errors.join('\n'));

    const ok = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceLogs: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
            scopeLogs: [
              {
                scope: { name: 'logger' },
                logRecords: [
                  {
                    timeUnixNano: '1700000000000000000',
                    severityNumber: 9,
                    severityText: 'INFO',
                    body: { kvlistValue: { values: [{ key: 'n', value: { intValue: '42' } }] } },
                    traceId: '5B8EFFF798038103D269B633813FC60C',
                    spanId: 'EEE19B7EC3C1B174',
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '{}');
    assert.deepEqual(receiver.logs, [
      {
        body: { n: 42 },
        severityText: 'INFO',
        severityNumber: 9,
        timeUnixNano: '1700000000000000000',
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: 'eee19b7ec3c1b174',
        attributes: {},
        resource: { 'service.name': 'svc' },
        scope: { name: 'logger' },
        contentType: 'application/json',
      },
    ]);
  });

  test('waitForSpans rejects with the span names received so far', async () => {
    receiver.reset();
    await exportSpans(receiver, PROTO);
    await assert.rejects(
      receiver.waitForSpans((s) => s.some((x) => x.name === 'never'), 300),
      /timed out after 300ms.*"GET \/selftest"/s,
    );
  });
});

describe('otlp receiver options', { timeout: 60000 }, () => {
  test('status: 500 is answered to the exporter and its data is not recorded as accepted', async () => {
    const receiver = await startReceiver({ status: 500 });
    try {
      const result = await exportSpans(receiver, PROTO);
      assert.equal(result.code, 0, describeResult(result));
      assert.match(result.stdout, /^export-result 1$/m, describeResult(result));
      assert.ok(receiver.requests.length >= 1);
      assert.ok(
        receiver.requests.every((r) => r.path === '/v1/traces' && r.status === 500),
        JSON.stringify(receiver.requests),
      );
      assert.deepEqual(receiver.spans, []);
    } finally {
      await receiver.close();
    }
  });

  test('a status function sees per-path attempt numbers, so a retry can succeed', async () => {
    const receiver = await startReceiver({ status: (_path, n) => (n === 1 ? 503 : 200) });
    try {
      const result = await exportSpans(receiver, PROTO);
      assert.equal(result.code, 0, describeResult(result));
      // SimpleSpanProcessor exports each of the two spans separately; only the first attempt fails.
      assert.deepEqual(result.stdout.match(/^export-result \d$/gm), ['export-result 0', 'export-result 0']);
      assert.deepEqual(receiver.requests.map((r) => r.status).sort(), [200, 200, 503]);
      // The rejected attempt's span arrives again in the retry, and must be counted once.
      assert.deepEqual(receiver.spans.map((s) => s.name).sort(), ['GET /selftest', 'db.query']);
    } finally {
      await receiver.close();
    }
  });

  test('hang never answers, and close() still returns promptly', async () => {
    const receiver = await startReceiver({ hang: true });
    const pending = fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).catch((err: Error) => err);
    const deadline = Date.now() + 5000;
    while (receiver.requests.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(receiver.requests[0]?.status, 0);
    const began = Date.now();
    await receiver.close();
    assert.ok(Date.now() - began < 1000);
    assert.ok((await pending) instanceof Error);
  });

  test('delayMs answers late', async () => {
    const receiver = await startReceiver({ delayMs: 300 });
    try {
      const began = Date.now();
      const res = await fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: new Uint8Array(0),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
      assert.ok(Date.now() - began >= 250);
    } finally {
      await receiver.close();
    }
  });
});

describe('run', { timeout: 60000 }, () => {
  const node = process.execPath;

  test('passes the exit code through', async () => {
    const r = await run(node, ['-e', 'console.log("out"); console.error("err"); process.exit(3)']);
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(r.signal, null);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('reports a signal death as a signal', async () => {
    const r = await run(node, ['-e', 'process.kill(process.pid, "SIGTERM"); setTimeout(() => {}, 5000)']);
    assert.equal(r.code, null, describeResult(r));
    assert.equal(r.signal, 'SIGTERM');
  });

  test('passes input to stdin and closes it', async () => {
    const r = await run(node, ['-e', 'process.stdin.pipe(process.stdout)'], { input: 'héllo\nworld' });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'héllo\nworld');
    const empty = await run(node, ['-e', 'process.stdin.on("end", () => console.log("eof")).resume()']);
    assert.equal(empty.stdout, 'eof\n', describeResult(empty));
  });

  test('the environment is hermetic by default', async () => {
    const saved = { ...process.env };
    process.env.OTEL_SERVICE_NAME = 'leak';
    process.env.NODE_OPTIONS = '--no-warnings';
    process.env.npm_config_registry = 'http://leak.invalid';
    try {
      const r = await run(node, ['-e', 'console.log(JSON.stringify(process.env))'], {
        env: hermeticEnv({ KEEP: '1', HOME: undefined }),
      });
      const env = JSON.parse(r.stdout) as Record<string, string>;
      assert.equal(env.OTEL_SERVICE_NAME, undefined);
      assert.equal(env.NODE_OPTIONS, undefined);
      assert.equal(env.npm_config_registry, undefined);
      assert.equal(env.HOME, undefined);
      assert.equal(env.KEEP, '1');
      assert.equal(env.FORCE_COLOR, '0');
      assert.equal(env.NO_COLOR, '1');
      assert.equal(env.PATH, process.env.PATH);
      assert.equal(r.stderr, '', describeResult(r));
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  test('a timeout kills the whole process group, grandchildren included', async () => {
    const script = `
      const { spawn } = require('node:child_process');
      const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log('grandchild ' + grandchild.pid);
      setInterval(() => {}, 1000);
    `;
    const r = await run(node, ['-e', script], { timeoutMs: 1000 });
    assert.equal(r.signal, 'SIGKILL', describeResult(r));
    assert.match(r.stderr, /timed out after 1000ms/);
    const pid = Number(/grandchild (\d+)/.exec(r.stdout)?.[1]);
    assert.ok(pid > 0, describeResult(r));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isAlive(pid), false, `grandchild ${pid} survived`);
  });

  test('start: waitForLine, signal and exited', async () => {
    const script = `
      process.on('SIGTERM', () => { console.log('bye'); process.exit(0); });
      console.error('warming up');
      setTimeout(() => console.log('listening on 4242'), 50);
      setInterval(() => {}, 1000);
    `;
    const h = start(node, ['-e', script]);
    try {
      assert.equal(await h.waitForLine(/warming/), 'warming up');
      assert.equal(await h.waitForLine(/listening on (\d+)/), 'listening on 4242');
      h.signal('SIGTERM');
      const r = await h.exited;
      assert.equal(r.code, 0, describeResult(r));
      assert.match(h.stdout(), /bye/);
    } finally {
      h.killGroup();
    }
  });

  test('start: waitForLine rejects with the output when the child exits first', async () => {
    const h = start(node, ['-e', 'console.log("only line"); process.exit(1)']);
    await assert.rejects(h.waitForLine(/never/, 5000), /exited first \(code 1.*only line/s);
  });

  test('path constants point into the repo', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string };
    assert.equal(pkg.name, 'otel-run');
    assert.equal(BIN, path.join(REPO_ROOT, 'bin', 'otel-run.js'));
    assert.equal(REGISTER, path.join(REPO_ROOT, 'register', 'index.cjs'));
    assert.equal(FIXTURES, path.join(REPO_ROOT, 'test', 'fixtures'));
  });
});

describe('postgres helper', { timeout: 60000 }, () => {
  const skip = postgresUnavailable();
  test('starts a throwaway server on 127.0.0.1 that a real client can query', { skip }, async () => {
    const pg = await startPostgres();
    try {
      const { Client } = require('pg') as typeof import('pg');
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      const result = await client.query('select 41 + 1 as answer');
      await client.end();
      assert.equal(result.rows[0].answer, 42);
    } finally {
      pg.stop();
    }
  });
});
