// Issue metrics and logs from the environment, and trace context carried across processes. Every run is a
// real child process (the preload through NODE_OPTIONS, or the built CLI) exporting to a real OTLP/HTTP
// receiver. Fixtures run in place (they use the repo's pino) with explicit enable lists, so discovery never
// turns on the repo's other devDependency instrumentations.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { withContext } from '../register/context/child-process';
import { readSettings } from '../register/settings/table';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  describeResult,
  FIXTURES,
  hermeticEnv,
  REGISTER,
  type RunResult,
  run,
  start,
} from './helpers/run';

const APP_DIR = path.join(FIXTURES, 'signals-app');
const PRELOAD = `--require ${REGISTER}`;
const ENV_TRACE = '0af7651916cd43dd8448eb211c80319c';
const ENV_SPAN = 'b7ad6b7169203331';

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return hermeticEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_BLRP_SCHEDULE_DELAY: '50',
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
    ...extra,
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: a kept-alive connection would hold the fixture's server open after it closes.
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** The app's own lines: pino's JSON lines carry times and (under otel-run) trace ids. */
function plainLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l && !l.startsWith('{'));
}

function ok(r: RunResult): void {
  assert.equal(r.code, 0, describeResult(r));
  assert.equal(r.signal, null, describeResult(r));
}

const byPath = (spans: ReceivedSpan[], p: string) => spans.find((s) => s.attributes['url.path'] === p);

describe('metrics and logs', () => {
  test('reach the OTLP receiver with the resource of the spans, log records carrying trace and span ids', async () => {
    receiver.reset();
    const bare = await run(process.execPath, ['app.js'], { cwd: APP_DIR });
    ok(bare);
    const r = await run(process.execPath, ['app.js'], {
      cwd: APP_DIR,
      env: env({
        NODE_OPTIONS: PRELOAD,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino,runtime-node',
        OTEL_SERVICE_NAME: 'signals-test',
      }),
    });
    ok(r);
    assert.deepEqual(plainLines(r.stdout), plainLines(bare.stdout));
    assert.doesNotMatch(r.stderr, /otel-run: /, describeResult(r));

    const spans = await receiver.waitForSpans((s) => s.some((x) => x.kind === 2));
    const server = spans.find((s) => s.kind === 2)!;
    const metrics = await receiver.waitForMetrics((m) =>
      ['http.server.request.duration', 'http.client.request.duration', 'v8js.memory.heap.used'].every((n) =>
        m.some((x) => x.name === n),
      ),
    );
    const duration = metrics.find((m) => m.name === 'http.server.request.duration')!;
    assert.equal(duration.kind, 'histogram');
    assert.equal(duration.aggregationTemporality, 2, 'cumulative by default');
    assert.ok(
      metrics.some((m) => m.name.startsWith('nodejs.eventloop.')),
      'event loop metrics',
    );
    const logs = await receiver.waitForLogs((l) => l.some((x) => x.body === 'handled request'));
    const record = logs.find((l) => l.body === 'handled request')!;
    assert.equal(record.traceId, server.traceId);
    assert.equal(record.spanId, server.spanId);
    const exportSpans = receiver.spans.filter((s) => s.attributes['http.request.method'] === 'POST');
    assert.deepEqual(
      exportSpans.map((s) => s.attributes['url.full']),
      [],
      'the exports themselves are not traced',
    );
    for (const signal of [duration.resource, record.resource]) {
      assert.equal(signal['service.name'], 'signals-test');
      assert.equal(signal['telemetry.distro.name'], 'otel-run');
      assert.equal(signal['process.pid'], server.resource['process.pid']);
    }
  });

  test('pending at process.exit() are sent on the way out (http/json)', async () => {
    receiver.reset();
    const r = await run(process.execPath, ['app.js', 'exit'], {
      cwd: APP_DIR,
      env: env({
        NODE_OPTIONS: PRELOAD,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Only the exit path can deliver: no batch or interval comes due before it.
        OTEL_BSP_SCHEDULE_DELAY: '30000',
        OTEL_BLRP_SCHEDULE_DELAY: '30000',
      }),
    });
    ok(r);
    await receiver.waitForMetrics((m) => m.some((x) => x.name === 'http.client.request.duration'));
    const logs = await receiver.waitForLogs((l) => l.some((x) => x.body === 'handled request'));
    assert.match(logs[0]!.contentType, /json/);
    assert.ok(receiver.requests.some((q) => q.path === '/v1/metrics' && /json/.test(q.contentType)));
  });

  test("each signal's own endpoint and headers win over the generic ones; only the generic endpoint gets /v1/<signal>", async () => {
    // One rule for the three signals (export/target.ts). A signal's own endpoint is used as it is: were
    // /v1/<signal> appended to it, or the generic endpoint (a closed port) used, nothing would arrive.
    const check = async (extra: Record<string, string>, headerOf: Record<string, string>) => {
      receiver.reset();
      const r = await run(process.execPath, ['app.js', 'exit'], {
        cwd: APP_DIR,
        env: env({ NODE_OPTIONS: PRELOAD, OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino', ...extra }),
      });
      ok(r);
      assert.doesNotMatch(r.stderr, /otel-run: /, describeResult(r));
      await receiver.waitForSpans((s) => s.length > 0);
      await receiver.waitForMetrics((m) => m.length > 0);
      await receiver.waitForLogs((l) => l.length > 0);
      for (const [signal, which] of Object.entries(headerOf)) {
        const requests = receiver.requests.filter((q) => q.path === `/v1/${signal}`);
        assert.ok(requests.length > 0, `${signal} requests`);
        for (const q of requests) assert.equal(q.headers['x-which'], which, `${signal} request headers`);
      }
    };
    await check(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`,
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${receiver.url}/v1/logs`,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-which=generic',
        OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-which=logs',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-which=metrics',
      },
      { traces: 'generic', metrics: 'metrics', logs: 'logs' },
    );
    // A trailing slash on the generic endpoint is not doubled.
    await check(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-which=traces',
      },
      { traces: 'traces' },
    );
  });

  test('Prometheus on port 0: the scrape returns the http server duration, and scrapes are not traced', async () => {
    receiver.reset();
    const app = start(process.execPath, ['app.js', 'serve'], {
      cwd: APP_DIR,
      timeoutMs: 30_000,
      env: env({
        NODE_OPTIONS: PRELOAD,
        OTEL_METRICS_EXPORTER: 'prometheus',
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        OTEL_EXPORTER_PROMETHEUS_PORT: '0',
        OTEL_LOGS_EXPORTER: 'none',
        // The bound address is written at info level: that is how a test (or a user of port 0) finds it.
        OTEL_LOG_LEVEL: 'info',
      }),
    });
    try {
      const port = /listening (\d+)/.exec(await app.waitForLine(/^listening \d+$/))![1];
      const scrapeUrl = /Prometheus metrics at (\S+)/.exec(
        await app.waitForLine(/Prometheus metrics at /),
      )![1]!;
      assert.match(scrapeUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.doesNotMatch(scrapeUrl, /:9464\//);
      await get(scrapeUrl);
      assert.equal((await get(`http://127.0.0.1:${port}/hello`)).body, 'ok');
      const scrape = await get(scrapeUrl);
      assert.equal(scrape.status, 200);
      assert.match(scrape.body, /^http_server_request_duration_bucket\{.*http_request_method="GET".*\} 1$/m);
      assert.match(scrape.body, /^target_info\{.*service_name="signals-app"/m);
      assert.equal((await get(scrapeUrl.replace('/metrics', '/other'))).status, 404);
      const spans = await receiver.waitForSpans((s) => !!byPath(s, '/hello'));
      assert.deepEqual(
        spans.filter((s) => s.attributes['url.path'] !== '/hello').map((s) => s.attributes['url.path']),
        [],
        'no span for the scrapes',
      );
    } finally {
      app.killGroup('SIGTERM');
    }
    const r = await app.exited;
    assert.equal(r.signal, 'SIGTERM', describeResult(r));
  });

  test('console exporters write metrics and log records to stderr, never to stdout', async () => {
    const bare = await run(process.execPath, ['app.js'], { cwd: APP_DIR });
    const r = await run(process.execPath, ['app.js'], {
      cwd: APP_DIR,
      env: env({
        NODE_OPTIONS: PRELOAD,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'console',
        OTEL_LOGS_EXPORTER: 'console',
      }),
    });
    ok(r);
    assert.deepEqual(plainLines(r.stdout), plainLines(bare.stdout));
    assert.match(r.stderr, /name: 'http\.server\.request\.duration'/);
    assert.match(r.stderr, /body: 'handled request'/);
    assert.doesNotMatch(r.stdout, /http\.server\.request\.duration|instrumentationScope/);
  });

  test('a collector that never answers does not hold the ending app open', async () => {
    const silent = await startReceiver({ hang: true });
    try {
      const r = await run(process.execPath, ['app.js'], {
        cwd: APP_DIR,
        timeoutMs: 20_000,
        env: env({
          NODE_OPTIONS: PRELOAD,
          OTEL_EXPORTER_OTLP_ENDPOINT: silent.url,
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino',
          // Exports of both signals are in flight when the app ends, each allowed a minute.
          OTEL_METRIC_EXPORT_INTERVAL: '100',
          OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
          OTEL_RUN_FLUSH_TIMEOUT: '500',
        }),
      });
      // Ended by itself (the runner kills it after 20 s), as it would have without otel-run.
      ok(r);
      assert.ok(silent.requests.some((q) => q.path === '/v1/metrics'));
      assert.ok(silent.requests.some((q) => q.path === '/v1/logs'));
    } finally {
      await silent.close();
    }
  });

  test('a traces-only run loads neither the metrics nor the logs SDK', async () => {
    receiver.reset();
    const r = await run(process.execPath, ['app.js'], {
      cwd: APP_DIR,
      env: env({
        NODE_OPTIONS: PRELOAD,
        // runtime-node and pino are enabled on purpose: neither may bring a metrics or logs SDK in.
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino,runtime-node',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
    });
    ok(r);
    await receiver.waitForSpans((s) => s.length >= 2);
    const line = /^loaded-sdk-packages: (.*)$/m.exec(r.stderr);
    assert.ok(line, describeResult(r));
    const loaded = line[1]!.split(' ');
    assert.ok(loaded.includes('@opentelemetry/instrumentation-pino'), line[1]);
    for (const pkg of loaded) {
      assert.doesNotMatch(
        pkg,
        /sdk-metrics|sdk-logs|exporter-metrics|exporter-logs|prometheus|runtime-node/,
        line[1],
      );
    }
    const paths = receiver.requests.map((q) => q.path);
    assert.ok(!paths.includes('/v1/metrics') && !paths.includes('/v1/logs'), JSON.stringify(paths));
  });
});

describe('OTLP over https with the certificate settings', () => {
  const TLS = path.join(FIXTURES, 'tls');
  const pem = (file: string) => fs.readFileSync(path.join(TLS, file));
  let secure: Receiver;
  before(async () => {
    // A collector that only talks to clients holding a certificate its CA signed.
    secure = await startReceiver({
      tls: { key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true },
    });
  });
  after(() => secure.close());

  const tlsEnv = (extra: Record<string, string>) =>
    env({
      NODE_OPTIONS: PRELOAD,
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino',
      OTEL_EXPORTER_OTLP_ENDPOINT: secure.url,
      OTEL_EXPORTER_OTLP_CERTIFICATE: path.join(TLS, 'ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: path.join(TLS, 'client.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: path.join(TLS, 'client.key'),
      ...extra,
    });

  test('spans, metrics and log records arrive, sent as usual and by the exit path', async () => {
    secure.reset();
    const r = await run(process.execPath, ['app.js'], { cwd: APP_DIR, env: tlsEnv({}) });
    ok(r);
    assert.doesNotMatch(r.stderr, /otel-run: /, describeResult(r));
    await secure.waitForSpans((s) => s.length > 0);
    await secure.waitForMetrics((m) => m.length > 0);
    await secure.waitForLogs((l) => l.length > 0);

    // process.exit() before any batch is due: only the exit path's worker can deliver, with the same files.
    secure.reset();
    const exit = await run(process.execPath, ['app.js', 'exit'], {
      cwd: APP_DIR,
      env: tlsEnv({ OTEL_BSP_SCHEDULE_DELAY: '30000', OTEL_BLRP_SCHEDULE_DELAY: '30000' }),
    });
    ok(exit);
    assert.doesNotMatch(exit.stderr, /otel-run: /, describeResult(exit));
    await secure.waitForSpans((s) => s.length > 0);
    await secure.waitForLogs((l) => l.length > 0);
  });

  test('a CA file that cannot be read: the failed export names the file, the app is unharmed', async () => {
    const missing = path.join(TLS, 'no-such-ca.pem');
    const r = await run(process.execPath, ['app.js'], {
      cwd: APP_DIR,
      env: tlsEnv({ OTEL_EXPORTER_OTLP_CERTIFICATE: missing }),
    });
    ok(r);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('otel-run: '));
    assert.ok(
      warnings.some((l) => l.includes('failed: ENOENT') && l.includes(missing)),
      describeResult(r),
    );
  });
});

describe('trace context from the environment', () => {
  async function runScript(cmd: string, args: string[], extra: Record<string, string>) {
    const child = start(cmd, args, { cwd: APP_DIR, env: env(extra), timeoutMs: 30_000 });
    const port = /listening (\d+)/.exec(await child.waitForLine(/^listening \d+$/))![1];
    await get(`http://127.0.0.1:${port}/from-test`);
    const r = await child.exited;
    ok(r);
    return r;
  }

  test('TRACEPARENT makes root work part of that trace; incoming requests keep their own', async () => {
    receiver.reset();
    await runScript(process.execPath, ['script.js'], {
      NODE_OPTIONS: PRELOAD,
      TRACEPARENT: `00-${ENV_TRACE}-${ENV_SPAN}-01`,
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const spans = await receiver.waitForSpans((s) => s.length >= 3);
    const client = spans.find((s) => s.kind === 3)!;
    assert.equal(client.traceId, ENV_TRACE);
    assert.equal(client.parentSpanId, ENV_SPAN);
    assert.equal(byPath(spans, '/from-script')!.parentSpanId, client.spanId);
    const incoming = byPath(spans, '/from-test')!;
    assert.notEqual(incoming.traceId, ENV_TRACE);
    assert.equal(incoming.parentSpanId, '');
  });

  test('--process-span: one span for the run under TRACEPARENT, the work under it', async () => {
    receiver.reset();
    await runScript(process.execPath, [BIN, '--process-span', 'node', 'script.js'], {
      TRACEPARENT: `00-${ENV_TRACE}-${ENV_SPAN}-01`,
      TRACESTATE: 'vendor=x',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.name === 'node script.js'));
    const run = spans.find((s) => s.name === 'node script.js')!;
    assert.equal(run.traceId, ENV_TRACE);
    assert.equal(run.parentSpanId, ENV_SPAN);
    assert.equal(run.traceState, 'vendor=x');
    assert.equal(run.attributes['process.exit.code'], 0);
    assert.equal(run.status.code, 0);
    const client = spans.find((s) => s.kind === 3)!;
    assert.equal(client.parentSpanId, run.spanId);
    assert.ok(BigInt(run.startTimeUnixNano) <= BigInt(client.startTimeUnixNano));
    assert.ok(BigInt(run.endTimeUnixNano) >= BigInt(client.endTimeUnixNano));
    assert.notEqual(byPath(spans, '/from-test')!.traceId, ENV_TRACE);
  });

  test('an invalid TRACEPARENT is one warning, and the process starts its own traces', async () => {
    receiver.reset();
    const r = await runScript(process.execPath, ['script.js'], {
      NODE_OPTIONS: PRELOAD,
      TRACEPARENT: 'not-a-traceparent',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    assert.match(
      r.stderr,
      /^otel-run: TRACEPARENT="not-a-traceparent" is not valid: expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags> — this process starts its own traces$/m,
    );
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.kind === 3));
    assert.equal(spans.find((s) => s.kind === 3)!.parentSpanId, '');
  });
});

describe('trace context to child processes', () => {
  test("a Node child continues the trace, under the parent's span that spawned it", async () => {
    receiver.reset();
    const r = await run(process.execPath, [BIN, 'node', 'parent.js'], {
      cwd: APP_DIR,
      env: env({ OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' }),
    });
    ok(r);
    assert.match(r.stdout, /^top-level child TRACEPARENT=none$/m, 'no span current: nothing passed on');
    assert.match(r.stdout, /^env untouched: true$/m);
    // The spawning request's span (parent process), the child's root span, and the request it made.
    const childRootOf = (spans: ReceivedSpan[]) => {
      const pid = byPath(spans, '/spawn')?.resource['process.pid'];
      return spans.find((s) => s.kind === 3 && pid !== undefined && s.resource['process.pid'] !== pid);
    };
    const spawned = await receiver.waitForSpans((s) => !!byPath(s, '/leaf') && !!childRootOf(s));
    const spawnRequest = byPath(spawned, '/spawn')!;
    const childRoot = childRootOf(spawned)!;
    assert.equal(childRoot.traceId, spawnRequest.traceId);
    assert.equal(childRoot.parentSpanId, spawnRequest.spanId);
    assert.equal(byPath(spawned, '/leaf')!.parentSpanId, childRoot.spanId);
    assert.match(
      r.stdout,
      new RegExp(`^child TRACEPARENT=00-${spawnRequest.traceId}-${spawnRequest.spanId}-01$`, 'm'),
    );
  });

  test('with --process-span, each child process span sits under the span current where it was started', async () => {
    receiver.reset();
    const r = await run(process.execPath, [BIN, '--process-span', 'node', 'parent.js'], {
      cwd: APP_DIR,
      env: env({
        TRACEPARENT: `00-${ENV_TRACE}-${ENV_SPAN}-01`,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
    });
    ok(r);
    const all = await receiver.waitForSpans(
      (s) =>
        s.filter((x) => x.name === 'node child.js').length === 2 &&
        s.some((x) => x.name === 'node parent.js'),
    );
    const parentRun = all.find((s) => s.name === 'node parent.js')!;
    assert.equal(parentRun.traceId, ENV_TRACE);
    assert.equal(parentRun.parentSpanId, ENV_SPAN);
    // Started at the top level: the process span is the span current there.
    assert.match(
      r.stdout,
      new RegExp(`^top-level child TRACEPARENT=00-${ENV_TRACE}-${parentRun.spanId}-01$`, 'm'),
    );
    const spawnRequest = byPath(all, '/spawn')!;
    const childRuns = all.filter((s) => s.name === 'node child.js').map((s) => [s.traceId, s.parentSpanId]);
    assert.deepEqual(
      childRuns.sort(),
      [
        [ENV_TRACE, parentRun.spanId],
        [ENV_TRACE, spawnRequest.spanId],
      ].sort(),
    );
  });

  test('the options passed are copied, in every argument shape child_process accepts', () => {
    const carrier = { vars: { TRACEPARENT: 'tp' }, names: ['TRACEPARENT', 'TRACESTATE', 'BAGGAGE'] };
    const callback = () => {};
    const own = { cwd: '/', env: { A: '1', TRACESTATE: 'stale' } };
    const out = withContext('spawn', ['cmd', ['x'], own], carrier);
    assert.deepEqual(out[2], { cwd: '/', env: { A: '1', TRACEPARENT: 'tp' } });
    assert.deepEqual(
      own,
      { cwd: '/', env: { A: '1', TRACESTATE: 'stale' } },
      'the caller’s objects are unchanged',
    );
    const withEnv = (o: unknown) => (o as { env: NodeJS.ProcessEnv }).env.TRACEPARENT;
    assert.equal(withEnv(withContext('spawn', ['cmd'], carrier)[2]), 'tp');
    assert.equal(withEnv(withContext('spawn', ['cmd', { shell: true }], carrier)[1]), 'tp');
    assert.equal(withEnv(withContext('fork', ['m.js', undefined, {}], carrier)[2]), 'tp');
    const execFile = withContext('execFile', ['f', callback], carrier);
    assert.equal(withEnv(execFile[1]), 'tp');
    assert.equal(execFile[2], callback);
    const exec = withContext('exec', ['ls', callback], carrier);
    assert.equal(withEnv(exec[1]), 'tp');
    assert.equal(exec[2], callback);
    assert.equal(withEnv(withContext('execSync', ['ls'], carrier)[1]), 'tp');
    const odd = ['cmd', 'not-an-array-or-options'];
    assert.equal(withContext('spawn', odd, carrier), odd, 'a shape Node rejects is passed through unchanged');
  });
});

describe('settings', () => {
  test('a bad value names the variable and the allowed values, and the default applies', () => {
    const problems: string[] = [];
    const s = readSettings(
      {
        OTEL_METRICS_EXPORTER: 'statsd',
        OTEL_EXPORTER_PROMETHEUS_PORT: '70000',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes',
      },
      (p) => problems.push(p.message),
    );
    assert.deepEqual(problems, [
      'OTEL_METRICS_EXPORTER="statsd" is not valid: unknown statsd: expected any of otlp, prometheus, console, none — using the default otlp',
      'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE="sometimes" is not valid: expected one of cumulative, delta, lowmemory — using the default cumulative',
      'OTEL_EXPORTER_PROMETHEUS_PORT="70000" is not valid: expected a number from 0 to 65535 — using the default 9464',
    ]);
    assert.deepEqual(s.metricsExporter, ['otlp']);
    assert.equal(s.exporterPrometheusPort, 9464);
  });
});
