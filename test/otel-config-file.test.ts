// OTEL_CONFIG_FILE: the OpenTelemetry configuration file (file_format 1.x). The three example files of the
// opentelemetry-configuration repository (test/fixtures/otel-config, SOURCE.md says where from and what was
// edited) each run the signals app under otel-run, through the preload alone (NODE_OPTIONS) and through the
// CLI; what they configure is checked where it lands, at the real OTLP receiver. Bad files: one line naming
// the file, the key and its line, and the app runs unchanged; strict mode stops the start.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startGrpcReceiver } from './helpers/grpc-receiver';
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
const FILES = path.join(FIXTURES, 'otel-config');
const PRELOAD = `--require ${REGISTER}`;

let receiver: Receiver;
let bare: RunResult;
before(async () => {
  receiver = await startReceiver();
  bare = await run(process.execPath, ['app.js'], { cwd: APP_DIR });
});
after(() => receiver.close());

/** The app's own lines: pino's JSON lines carry times and (under otel-run) trace ids. */
function plainLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l && !l.startsWith('{'));
}

function unharmed(r: RunResult): void {
  assert.equal(r.code, 0, describeResult(r));
  assert.equal(r.signal, null, describeResult(r));
  assert.deepEqual(plainLines(r.stdout), plainLines(bare.stdout), describeResult(r));
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // agent: false: a kept-alive connection would hold the app's server open.
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** otel-run's own stderr lines, without the app's and the fixture's. */
function ours(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('otel-run: '));
}

type Way = 'preload' | 'cli';

/** Runs the signals app with `file` (relative to the app's folder under the CLI, as a user would give it). */
function runWith(
  way: Way,
  file: string,
  extra: Record<string, string> = {},
  mode = 'natural',
): Promise<RunResult> {
  const env = hermeticEnv({
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,pino',
    OTEL_RUN_FLUSH_TIMEOUT: '3000',
    ...extra,
  });
  if (way === 'preload')
    return run(process.execPath, ['app.js', mode], {
      cwd: APP_DIR,
      env: { ...env, NODE_OPTIONS: PRELOAD, OTEL_CONFIG_FILE: path.join(FILES, file) },
    });
  return run(
    process.execPath,
    [BIN, '--otel-config-file', path.relative(APP_DIR, path.join(FILES, file)), 'node', 'app.js', mode],
    { cwd: APP_DIR, env },
  );
}

async function allSignals(): Promise<ReceivedSpan> {
  const spans = await receiver.waitForSpans((s) => s.some((x) => x.kind === 2));
  await receiver.waitForMetrics((m) => m.some((x) => x.name === 'http.server.request.duration'));
  await receiver.waitForLogs((l) => l.some((x) => x.body === 'handled request'));
  return spans.find((s) => s.kind === 2)!;
}

const byPath = (p: string) => receiver.requests.filter((q) => q.path === p);

for (const way of ['preload', 'cli'] as const) {
  describe(`the upstream example files (${way})`, () => {
    test('otel-getting-started.yaml: endpoint and resource attributes through its substitutions, detectors', async () => {
      receiver.reset();
      const r = await runWith(way, 'otel-getting-started.yaml', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,team=checkout',
        OTEL_SERVICE_NAME: 'getting-started-svc',
      });
      unharmed(r);
      // The container detector's package is in this repository's tree (a devDependency brings it).
      assert.deepEqual(ours(r.stderr), [], describeResult(r));
      const server = await allSignals();
      const res = server.resource;
      assert.equal(res['deployment.environment.name'], 'staging');
      assert.equal(res.team, 'checkout');
      assert.equal(
        res['service.name'],
        'getting-started-svc',
        'the service detector reads OTEL_SERVICE_NAME',
      );
      assert.equal(typeof res['service.instance.id'], 'string', 'service detector');
      assert.equal(typeof res['host.name'], 'string', 'host detector');
      assert.equal(res['process.pid'], server.resource['process.pid']);
      assert.equal(typeof res['process.pid'], 'number', 'process detector');
      for (const p of ['/v1/traces', '/v1/metrics', '/v1/logs']) {
        assert.ok(byPath(p).length > 0, `${p} reached`);
        assert.match(byPath(p)[0]!.contentType, /protobuf/);
      }
    });

    test('otel-sdk-config.yaml: gzip, log_level info, its resource; a key otel-run cannot honour is named', async () => {
      receiver.reset();
      const r = await runWith(way, 'otel-sdk-config.yaml', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
      unharmed(r);
      const lines = ours(r.stderr);
      assert.ok(
        lines.some((l) =>
          /otel-sdk-config\.yaml:\d+: meter_provider\.exemplar_filter: .*not supported by otel-run — ignored$/.test(
            l,
          ),
        ),
        describeResult(r),
      );
      assert.ok(
        lines.some((l) =>
          /service unknown_service; traces to otlp http\/protobuf to http:\/\/127\.0\.0\.1:/.test(l),
        ),
        'log_level: info prints the startup line',
      );
      const server = await allSignals();
      assert.equal(server.resource['service.name'], 'unknown_service');
      for (const p of ['/v1/traces', '/v1/metrics', '/v1/logs'])
        assert.equal(byPath(p)[0]?.encoding, 'gzip', p);
    });

    test('otel-sdk-migration-config.yaml: the OTEL_* variables through substitution: headers, limits, compression, service', async () => {
      receiver.reset();
      const r = await runWith(way, 'otel-sdk-migration-config.yaml', {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=acme',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'none',
        OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4',
        OTEL_SERVICE_NAME: 'migrated',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      });
      unharmed(r);
      const server = await allSignals();
      assert.equal(server.resource['service.name'], 'migrated');
      assert.equal(
        server.attributes['url.path'],
        '/hel',
        'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT via the file',
      );
      const traces = byPath('/v1/traces')[0]!;
      assert.equal(traces.headers['x-tenant'], 'acme');
      assert.equal(traces.encoding, undefined, 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none via the file');
      assert.equal(byPath('/v1/metrics')[0]?.encoding, 'gzip', 'the file default for metrics');
      assert.equal(byPath('/v1/metrics')[0]?.headers['x-tenant'], undefined);
    });
  });
}

describe('what only the file can say', () => {
  test('a composed parent_based sampler, OTLP/JSON with headers and headers_list, typed resource attributes, limits, a view, an instrumentor turned off', async () => {
    receiver.reset();
    const r = await runWith('preload', 'composed.yaml', { RECEIVER: receiver.url });
    unharmed(r);
    assert.deepEqual(ours(r.stderr), [], describeResult(r));
    assert.doesNotMatch(r.stdout, /trace_id/, 'js.pino.enabled: false: pino is not instrumented');
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.kind === 2));
    // root: always_off drops the client span; the server's parent is then remote and not sampled, which
    // remote_parent_not_sampled: always_on keeps. No OTEL_TRACES_SAMPLER value composes that.
    assert.deepEqual(
      spans.map((s) => s.kind),
      [2],
    );
    const server = spans[0]!;
    assert.match(server.parentSpanId, /^[0-9a-f]{16}$/);
    assert.ok(Object.keys(server.attributes).length <= 3, 'tracer_provider.limits.attribute_count_limit');
    assert.equal(server.resource['service.name'], 'composed-svc');
    assert.equal(server.resource['build.number'], 42);
    assert.deepEqual(server.resource['feature.flags'], ['a', 'b']);
    const q = byPath('/v1/traces')[0]!;
    assert.match(q.contentType, /json/);
    assert.equal(q.headers['x-team'], 'payments', '`headers` wins over `headers_list`');
    assert.equal(q.headers['x-tenant'], 'acme');
    // The view renames the server duration, keeps one attribute and sets its buckets; the reader is delta.
    const metrics = await receiver.waitForMetrics((m) => m.some((x) => x.name === 'server.duration'));
    const duration = metrics.find((x) => x.name === 'server.duration')!;
    assert.equal(duration.aggregationTemporality, 1, 'temporality_preference: delta');
    assert.ok(!metrics.some((x) => x.name === 'http.server.request.duration'));
    const point = duration.dataPoints[0] as {
      attributes: Record<string, unknown>;
      explicitBounds?: number[];
    };
    assert.deepEqual(Object.keys(point.attributes), ['http.request.method']);
    assert.deepEqual(point.explicitBounds, [1, 10, 100]);
    assert.match(byPath('/v1/metrics')[0]!.contentType, /json/);
  });

  test('several span exporters with their own targets (gRPC with headers, Zipkin, console) and a Prometheus pull reader', async () => {
    const grpc = await startGrpcReceiver();
    const zipkin: Array<{ name: string; kind?: string; localEndpoint?: { serviceName?: string } }> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        if (req.url === '/api/v2/spans') zipkin.push(...JSON.parse(body));
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = start(process.execPath, ['app.js', 'serve'], {
      cwd: APP_DIR,
      env: hermeticEnv({
        NODE_OPTIONS: PRELOAD,
        OTEL_CONFIG_FILE: path.join(FILES, 'several.yaml'),
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        GRPC_RECEIVER: grpc.url,
        ZIPKIN_RECEIVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      }),
    });
    try {
      const port = (await app.waitForLine(/^listening \d+$/)).split(' ')[1];
      await fetchText(`http://127.0.0.1:${port}/hello`);
      const spans = await grpc.waitForSpans((all) => all.some((x) => x.kind === 2));
      assert.equal(spans.find((x) => x.kind === 2)!.resource['service.name'], 'several-svc');
      assert.equal(grpc.metadata[0]?.['x-grpc-team'], 'infra');
      const deadline = Date.now() + 10_000;
      while (!zipkin.some((x) => x.kind === 'SERVER') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 25));
      assert.equal(zipkin.find((x) => x.kind === 'SERVER')?.localEndpoint?.serviceName, 'several-svc');
      assert.match(app.stderr(), /GET|\/hello/, 'the console exporter writes on stderr');
      const url = (await app.waitForLine(/Prometheus metrics at /)).replace(/^.*Prometheus metrics at /, '');
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.match(await fetchText(url), /http_server_request_duration/);
      assert.doesNotMatch(app.stdout(), /otel-run|GET/, 'nothing of otel-run on stdout');
    } finally {
      app.killGroup('SIGKILL');
      await app.exited;
      server.close();
      await grpc.close();
    }
  });

  test("process.exit() with the file's long batch delays: spans, metrics and log records leave on the exit path", async () => {
    receiver.reset();
    const r = await runWith(
      'preload',
      'otel-sdk-migration-config.yaml',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        // Through the file's own references: no batch or interval comes due before the exit.
        OTEL_BSP_SCHEDULE_DELAY: '30000',
        OTEL_BLRP_SCHEDULE_DELAY: '30000',
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
      },
      'exit',
    );
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stdout, /status 200/);
    await allSignals();
  });

  test('disabled: true turns everything off', async () => {
    receiver.reset();
    const r = await runWith('preload', 'disabled.yaml', { RECEIVER: receiver.url });
    unharmed(r);
    assert.deepEqual(ours(r.stderr), []);
    assert.doesNotMatch(r.stderr, /loaded-sdk-packages: .*sdk-trace/);
    assert.deepEqual(receiver.requests, []);
  });

  test('without OTEL_CONFIG_FILE the configuration library is never loaded', async () => {
    const r = await run(process.execPath, ['app.js'], {
      cwd: APP_DIR,
      env: hermeticEnv({
        NODE_OPTIONS: PRELOAD,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      }),
    });
    unharmed(r);
    assert.match(r.stderr, /loaded-sdk-packages: .*sdk-trace-base/);
    assert.doesNotMatch(r.stderr, /@opentelemetry\/configuration/);
  });

  test('variables the file does not refer to are named once as not used', async () => {
    receiver.reset();
    const r = await runWith('preload', 'composed.yaml', {
      RECEIVER: receiver.url,
      OTEL_TRACES_SAMPLER: 'always_on',
    });
    unharmed(r);
    assert.deepEqual(
      ours(r.stderr).filter((l) => l.includes('OTEL_TRACES_SAMPLER')),
      [
        `otel-run: OTEL_TRACES_SAMPLER set but not used: with OTEL_CONFIG_FILE (${path.join(FILES, 'composed.yaml')}) variables count only through \${…} in that file — ignored`,
      ],
    );
  });
});

describe('bad files: one line naming the file, the key and its line; the app runs', () => {
  // untraced: nothing set up; sdk: set up (its one exporter cannot send); spans: the other processor delivers.
  const cases: Array<{ file: string; line: RegExp; outcome: 'untraced' | 'sdk' | 'spans' }> = [
    {
      file: 'malformed.yaml',
      line: /malformed\.yaml:5: \(YAML\): not valid YAML: Flow map .* — the app runs untraced$/,
      outcome: 'untraced',
    },
    {
      file: 'unknown-exporter.yaml',
      line: /unknown-exporter\.yaml:6: tracer_provider\.processors\[0\]\.batch\.exporter\.kafka: unknown exporter type \(otel-run knows otlp_http, otlp_grpc, console, zipkin\) — this processor is left out$/,
      outcome: 'spans',
    },
    {
      file: 'missing-var.yaml',
      line: /missing-var\.yaml:7: tracer_provider\.processors\[0\]\.batch\.exporter\.otlp_http\.endpoint: \$\{COLLECTOR_URL\} is not set and has no default — the value is "\/v1\/traces"$/,
      outcome: 'sdk',
    },
    {
      file: 'schema-error.yaml',
      line: /schema-error\.yaml:5: tracer_provider\.processors\[0\]\.batch\.schedule_delay: must be integer,null — the app runs untraced$/,
      outcome: 'untraced',
    },
    {
      file: 'format-2.yaml',
      line: /format-2\.yaml:1: file_format: "2\.0" is not supported: this version reads 1\.x files — the app runs untraced$/,
      outcome: 'untraced',
    },
  ];
  for (const c of cases) {
    test(c.file, async () => {
      receiver.reset();
      const r = await runWith('preload', c.file, { RECEIVER: receiver.url });
      unharmed(r);
      const named = ours(r.stderr).filter((l) => l.startsWith(`otel-run: OTEL_CONFIG_FILE ${FILES}`));
      assert.equal(named.length, 1, describeResult(r));
      assert.match(named[0]!, c.line);
      if (c.outcome === 'untraced') assert.doesNotMatch(r.stderr, /loaded-sdk-packages: .*sdk-trace-base/);
      else assert.match(r.stderr, /loaded-sdk-packages: .*sdk-trace-base/);
      if (c.outcome === 'spans') await receiver.waitForSpans((s) => s.some((x) => x.kind === 2));
    });
  }

  for (const file of ['format-2.yaml', 'unknown-exporter.yaml']) {
    test(`strict mode: ${file} stops the start`, async () => {
      const r = await runWith('preload', file, { RECEIVER: receiver.url, OTEL_RUN_STRICT: 'true' });
      assert.notEqual(r.code, 0, describeResult(r));
      assert.doesNotMatch(r.stdout, /status 200/);
      assert.match(
        r.stderr,
        new RegExp(`${file.replace('.', '\\.')}:\\d+: .*\\(strict mode: configuration problems are fatal\\)`),
      );
    });
  }
});

describe('the CLI reports', () => {
  test('env and doctor name where each value comes from in the file; list honours its instrumentation section', async () => {
    const env = hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
    const file = path.join(FILES, 'otel-sdk-config.yaml');
    const e = await run(process.execPath, [BIN, 'env', '--otel-config-file', file], { cwd: APP_DIR, env });
    assert.equal(e.code, 0, describeResult(e));
    assert.match(e.stdout, new RegExp(`^export OTEL_CONFIG_FILE='${file}'$`, 'm'));
    assert.match(
      e.stdout,
      new RegExp(
        `^# {3}OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127\\.0\\.0\\.1:4318/v1/traces {2}from ${file}:\\d+ \\(tracer_provider\\.processors\\)$`,
        'm',
      ),
    );
    assert.match(
      e.stdout,
      new RegExp(`^# {3}OTEL_LOG_LEVEL=info {2}from ${file}:\\d+ \\(log_level\\)$`, 'm'),
    );

    const d = await run(process.execPath, [BIN, 'doctor', '--otel-config-file', file], { cwd: APP_DIR, env });
    assert.match(
      d.stdout,
      new RegExp(
        `OTEL_TRACES_SAMPLER +parent_based\\(root=always_on, remote_parent_sampled=always_on, remote_parent_not_sampled=always_off, local_parent_sampled=always_on, local_parent_not_sampled=always_off\\) +file ${file}:\\d+ \\(tracer_provider\\.sampler\\)`,
      ),
      describeResult(d),
    );
    assert.match(d.stdout, /! meter_provider\.exemplar_filter: .*not supported by otel-run — ignored/);

    const l = await run(process.execPath, [BIN, 'list', '--json'], {
      cwd: APP_DIR,
      env: hermeticEnv({ OTEL_CONFIG_FILE: path.join(FILES, 'composed.yaml') }),
    });
    assert.equal(l.code, 0, describeResult(l));
    const entries = JSON.parse(l.stdout) as Array<{ name: string; status: string }>;
    assert.equal(entries.find((x) => x.name === 'pino')?.status, 'disabled');
    assert.equal(entries.find((x) => x.name === 'http')?.status, 'enabled');
  });
});
