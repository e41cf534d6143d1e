// Issue the launcher and the preload, end to end: real child processes under the built CLI, spans checked
// at real OTLP receivers (HTTP protobuf/JSON, gRPC) and a Zipkin endpoint.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startGrpcReceiver } from './helpers/grpc-receiver';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { BIN, copyFixture, describeResult, hermeticEnv, REPO_ROOT, type RunResult, run } from './helpers/run';

const NODE_PATH = path.join(REPO_ROOT, 'node_modules');

let receiver: Receiver;
let app: string;

before(async () => {
  receiver = await startReceiver();
  app = await copyFixture('core-app');
});
after(async () => {
  await receiver.close();
});

/** The environment of a traced run: OTLP to the in-test receiver, only the instrumentors named. */
function envFor(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return hermeticEnv({
    NODE_PATH,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none',
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
    ...extra,
  });
}

function otelRun(args: string[], extra: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], { cwd: app, env: envFor(extra), input });
}

function bare(args: string[], input?: string): Promise<RunResult> {
  return run(process.execPath, args, { cwd: app, env: hermeticEnv({ NODE_PATH }), input });
}

/** Spans of one run, told apart by a fresh service name. */
let serial = 0;
function serviceName(): string {
  serial += 1;
  return `core-${process.pid}-${serial}`;
}

function spansOf(service: string): (spans: ReceivedSpan[]) => ReceivedSpan[] {
  return (spans) => spans.filter((s) => s.resource['service.name'] === service);
}

async function waitForNames(service: string, names: string[]): Promise<ReceivedSpan[]> {
  const mine = spansOf(service);
  await receiver.waitForSpans((all) => names.every((n) => mine(all).some((s) => s.name === n)));
  return mine(receiver.spans);
}

describe('the launcher runs the command as plain node would', () => {
  test('exit code 0, stdout and spans with the resource', async () => {
    const service = serviceName();
    const [traced, plain] = await Promise.all([
      otelRun(['node', 'app.js', 'plain'], { OTEL_SERVICE_NAME: service }),
      bare(['app.js', 'plain']),
    ]);
    assert.equal(traced.code, 0, describeResult(traced));
    assert.equal(traced.stdout, plain.stdout);
    assert.equal(traced.stderr, '', describeResult(traced));
    const spans = await waitForNames(service, ['work', 'work.step']);
    const work = spans.find((s) => s.name === 'work')!;
    const step = spans.find((s) => s.name === 'work.step')!;
    assert.equal(step.parentSpanId, work.spanId);
    assert.equal(step.traceId, work.traceId);
    assert.equal(work.attributes['app.mode'], 'plain');
    assert.equal(work.scope.name, 'core-app');
    assert.equal(work.resource['telemetry.distro.name'], 'otel-run');
    assert.equal(work.resource['telemetry.sdk.language'], 'nodejs');
    assert.equal(typeof work.resource['process.pid'], 'number');
    assert.equal(typeof work.resource['host.name'], 'string');
    assert.equal(work.resource['service.version'], '1.2.3', 'service.version from the app package.json');
  });

  test('service.name falls back to the app package.json, and OTEL_RESOURCE_ATTRIBUTES comes next', async () => {
    const marker = `m-${process.pid}-${++serial}`;
    const r = await otelRun(['node', 'app.js'], {
      OTEL_RESOURCE_ATTRIBUTES: `deployment.environment=${marker}`,
    });
    assert.equal(r.code, 0, describeResult(r));
    await receiver.waitForSpans((all) => all.some((s) => s.resource['deployment.environment'] === marker));
    const span = receiver.spans.find((s) => s.resource['deployment.environment'] === marker)!;
    assert.equal(span.resource['service.name'], 'core-app');

    const marker2 = `m-${process.pid}-${++serial}`;
    const r2 = await otelRun(['node', 'app.js'], {
      OTEL_RESOURCE_ATTRIBUTES: `service.name=from-attrs,deployment.environment=${marker2}`,
    });
    assert.equal(r2.code, 0, describeResult(r2));
    await receiver.waitForSpans((all) => all.some((s) => s.resource['deployment.environment'] === marker2));
    assert.equal(
      receiver.spans.find((s) => s.resource['deployment.environment'] === marker2)!.resource['service.name'],
      'from-attrs',
    );
  });

  test('exit codes 1 and 3 pass through, and the spans ended before the exit arrive', async () => {
    const s3 = serviceName();
    const exit3 = await otelRun(['node', 'app.js', 'exit3'], { OTEL_SERVICE_NAME: s3 });
    assert.equal(exit3.code, 3, describeResult(exit3));
    assert.equal(exit3.stdout, 'exiting with 3\n');
    await waitForNames(s3, ['work', 'work.step']);

    const s1 = serviceName();
    const thrown = await otelRun(['node', 'app.js', 'throw'], { OTEL_SERVICE_NAME: s1 });
    const plain = await bare(['app.js', 'throw']);
    assert.equal(thrown.code, 1, describeResult(thrown));
    assert.equal(plain.code, 1);
    assert.match(thrown.stderr, /boom from core-app/);
    await waitForNames(s1, ['work']);
  });

  test('a child that dies of a signal makes the launcher die of the same signal', async () => {
    const service = serviceName();
    const r = await otelRun(['node', 'app.js', 'signal'], { OTEL_SERVICE_NAME: service });
    const plain = await bare(['app.js', 'signal']);
    assert.equal(plain.signal, 'SIGTERM');
    assert.equal(r.signal, 'SIGTERM', describeResult(r));
    assert.equal(r.code, null);
    assert.equal(r.stdout, plain.stdout);
    await waitForNames(service, ['work']);
  });

  test('stdin reaches the child', async () => {
    const service = serviceName();
    const r = await otelRun(
      ['node', 'app.js', 'stdin'],
      { OTEL_SERVICE_NAME: service },
      'hello from stdin\n',
    );
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'HELLO FROM STDIN\n');
    await waitForNames(service, ['stdin']);
  });

  test("the user's NODE_OPTIONS are kept, and ours is added once even when nested", async () => {
    const marker = path.join(app, 'marker.js');
    const r = await otelRun(['node', 'app.js', 'env'], { NODE_OPTIONS: `--require ${marker}` });
    assert.equal(r.code, 0, describeResult(r));
    const [options, markerLine] = r.stdout.trim().split('\n');
    assert.ok(options?.startsWith(`--require ${marker} --require `), options);
    assert.equal(markerLine, 'marker true');

    const nested = await otelRun([process.execPath, BIN, 'node', 'app.js', 'env']);
    const line = nested.stdout.split('\n')[0] ?? '';
    assert.equal(nested.code, 0, describeResult(nested));
    assert.equal(line.split('--require').length - 1, 1, `one preload in ${line}`);
  });

  test('a child process started by the app is traced too', async () => {
    const service = serviceName();
    const r = await otelRun(['node', 'app.js', 'spawn'], { OTEL_SERVICE_NAME: service });
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stdout, /child done\nchild exited 0/);
    const spans = await waitForNames(service, ['parent-work', 'child-work']);
    const parentPid = spans.find((s) => s.name === 'parent-work')!.resource['process.pid'];
    const childPid = spans.find((s) => s.name === 'child-work')!.resource['process.pid'];
    assert.notEqual(parentPid, childPid);
  });

  test('`npm run` is not instrumented itself; the app it starts is', async () => {
    const service = serviceName();
    const r = await otelRun(['npm', 'run', '--silent', 'start'], {
      OTEL_SERVICE_NAME: service,
      OTEL_LOG_LEVEL: 'debug',
    });
    assert.equal(r.code, 0, describeResult(r));
    const started = r.stderr.split('\n').filter((l) => l.includes('preload started in'));
    assert.equal(started.length, 1, describeResult(r));
    assert.match(started[0] ?? '', /app\.js/);
    await waitForNames(service, ['work']);
  });

  test('command not found: 127; not executable: 126; no command: usage and 2', async () => {
    const missing = await otelRun(['no-such-command-here']);
    assert.equal(missing.code, 127, describeResult(missing));
    assert.equal(missing.stderr, 'otel-run: command not found: no-such-command-here\n');

    const notExec = await otelRun(['./not-executable.sh']);
    assert.equal(notExec.code, 126, describeResult(notExec));
    assert.match(notExec.stderr, /otel-run: command not executable: \.\/not-executable\.sh/);

    const none = await otelRun([]);
    assert.equal(none.code, 2, describeResult(none));
    assert.match(none.stderr, /Usage: otel-run \[options\] <command> \[args\.\.\.\]/);
    assert.match(none.stderr, /otel-run: no command given/);
  });

  test('--help shows examples; --version prints the version', async () => {
    const help = await otelRun(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
    assert.match(help.stdout, /--traces-exporter <value>.*OTEL_TRACES_EXPORTER/);
    const version = await otelRun(['--version']);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('options after the command belong to the command', async () => {
    const r = await otelRun(['node', '--no-warnings', 'app.js', 'env', '--traces-exporter', 'bogus']);
    assert.equal(r.code, 0, describeResult(r));
  });

  test('a bad flag value: message, hint, exit 2, and the app never starts', async () => {
    const r = await otelRun(['--traces-sampler', 'sometimes', 'node', 'app.js']);
    assert.equal(r.code, 2, describeResult(r));
    assert.match(r.stderr, /^otel-run: --traces-sampler "sometimes" is not valid/);
    assert.match(r.stderr, /\n {2}hint: allowed values: always_on, always_off/);
    assert.equal(r.stdout, '');
  });
});

describe('exporters and protocols', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    test(`otlp ${protocol}`, async () => {
      const service = serviceName();
      const r = await otelRun(['node', 'app.js'], {
        OTEL_SERVICE_NAME: service,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      });
      assert.equal(r.code, 0, describeResult(r));
      const spans = await waitForNames(service, ['work']);
      const contentType = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
      assert.ok(spans.every((s) => s.contentType === contentType));
    });
  }

  test('per-signal endpoint and gzip compression', async () => {
    const other = await startReceiver();
    try {
      const service = serviceName();
      const r = await otelRun(['node', 'app.js'], {
        OTEL_SERVICE_NAME: service,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${other.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=secret%20value',
      });
      assert.equal(r.code, 0, describeResult(r));
      await other.waitForSpans((all) => all.some((s) => s.name === 'work'));
      assert.equal(other.requests[0]?.encoding, 'gzip');
      assert.equal(other.requests[0]?.headers['x-api-key'], 'secret value');
    } finally {
      await other.close();
    }
  });

  test('otlp grpc', async () => {
    const grpc = await startGrpcReceiver();
    try {
      const r = await otelRun(['node', 'app.js'], {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: grpc.url,
        OTEL_BSP_SCHEDULE_DELAY: '20',
      });
      assert.equal(r.code, 0, describeResult(r));
      const spans = await grpc.waitForSpans((all) => all.some((s) => s.name === 'work'));
      assert.equal(spans.find((s) => s.name === 'work')!.resource['service.name'], 'core-app');
    } finally {
      await grpc.close();
    }
  });

  test('zipkin', async () => {
    const bodies: Array<Array<{ name: string; localEndpoint?: { serviceName?: string } }>> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        if (req.url === '/api/v2/spans') bodies.push(JSON.parse(body));
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await otelRun(['node', 'app.js'], {
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_ZIPKIN_ENDPOINT: `http://127.0.0.1:${port}/api/v2/spans`,
        OTEL_BSP_SCHEDULE_DELAY: '20',
      });
      assert.equal(r.code, 0, describeResult(r));
      const deadline = Date.now() + 10_000;
      while (!bodies.flat().some((s) => s.name === 'work') && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 25));
      }
      const work = bodies.flat().find((s) => s.name === 'work');
      assert.ok(work, `zipkin spans: ${JSON.stringify(bodies)}`);
      assert.equal(work.localEndpoint?.serviceName, 'core-app');
    } finally {
      server.close();
    }
  });

  test('console writes spans to stderr, never to the app stdout; none exports nothing', async () => {
    const r = await otelRun(['node', 'app.js'], { OTEL_TRACES_EXPORTER: 'console' });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n');
    assert.match(r.stderr, /name: 'work'/);
    assert.match(r.stderr, /name: 'work\.step'/);

    const before = receiver.requests.length;
    const none = await otelRun(['node', 'app.js'], { OTEL_TRACES_EXPORTER: 'none' });
    assert.equal(none.code, 0, describeResult(none));
    assert.equal(none.stderr, '');
    assert.equal(receiver.requests.length, before);
  });
});

describe('sampling and propagation, as a client sees them', () => {
  /** Runs the app's `request` mode against a server that records the headers it receives. */
  async function headersSent(extra: NodeJS.ProcessEnv): Promise<http.IncomingHttpHeaders> {
    let seen: http.IncomingHttpHeaders | undefined;
    const server = http.createServer((req, res) => {
      seen = req.headers;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const r = await otelRun(['node', 'app.js', 'request', url], {
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        ...extra,
      });
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, 'status 200\n');
    } finally {
      server.close();
    }
    assert.ok(seen, 'the server saw a request');
    return seen;
  }

  test('default: W3C traceparent, sampled', async () => {
    const service = serviceName();
    const h = await headersSent({ OTEL_SERVICE_NAME: service });
    assert.match(String(h.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const spans = await waitForNames(service, ['outer', 'GET']);
    const outer = spans.find((s) => s.name === 'outer')!;
    const client = spans.find((s) => s.name === 'GET')!;
    assert.equal(client.kind, 3, 'CLIENT');
    assert.equal(client.parentSpanId, outer.spanId);
    assert.equal(String(h.traceparent).split('-')[1], outer.traceId);
    assert.equal(String(h.traceparent).split('-')[2], client.spanId);
  });

  test('b3 single header, b3multi, jaeger', async () => {
    const b3 = await headersSent({ OTEL_PROPAGATORS: 'b3' });
    assert.match(String(b3.b3), /^[0-9a-f]{32}-[0-9a-f]{16}-1$/);
    assert.equal(b3.traceparent, undefined);
    const multi = await headersSent({ OTEL_PROPAGATORS: 'b3multi' });
    assert.match(String(multi['x-b3-traceid']), /^[0-9a-f]{32}$/);
    assert.equal(multi['x-b3-sampled'], '1');
    const jaeger = await headersSent({ OTEL_PROPAGATORS: 'jaeger,tracecontext' });
    assert.match(String(jaeger['uber-trace-id']), /^[0-9a-f]{32}:[0-9a-f]{16}:0:01$/);
    assert.ok(jaeger.traceparent);
    const none = await headersSent({ OTEL_PROPAGATORS: 'none' });
    assert.equal(none.traceparent, undefined);
  });

  test('always_off and traceidratio 0 sample nothing; the header says so', async () => {
    for (const sampler of [
      { OTEL_TRACES_SAMPLER: 'always_off' },
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
    ]) {
      const service = serviceName();
      const h = await headersSent({ OTEL_SERVICE_NAME: service, ...sampler });
      assert.match(String(h.traceparent), /-00$/);
      // A sampled control run after it proves the receiver is live, so absence is meaningful.
      const control = serviceName();
      await headersSent({ OTEL_SERVICE_NAME: control });
      await waitForNames(control, ['outer']);
      assert.equal(spansOf(service)(receiver.spans).length, 0);
    }
  });
});

describe('bad values: one warning naming the variable and the fallback, the app unchanged', () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'OTEL_BSP_SCHEDULE_DELAY',
      'soon',
      /OTEL_BSP_SCHEDULE_DELAY="soon" is not valid: expected a whole number — using the default 5000/,
    ],
    ['OTEL_BSP_MAX_QUEUE_SIZE', '-5', /OTEL_BSP_MAX_QUEUE_SIZE="-5" is not valid: expected a number from 1/],
    [
      'OTEL_TRACES_SAMPLER',
      'maybe',
      /OTEL_TRACES_SAMPLER="maybe" is not valid: expected one of .* — using the default parentbased_always_on/,
    ],
    [
      'OTEL_TRACES_SAMPLER_ARG',
      'half',
      /OTEL_TRACES_SAMPLER_ARG="half" is not valid: expected a number from 0 to 1 — using 1/,
    ],
    [
      'OTEL_PROPAGATORS',
      'tracecontext,xray',
      /OTEL_PROPAGATORS="tracecontext,xray" is not valid: unknown xray/,
    ],
    [
      'OTEL_TRACES_EXPORTER',
      'otlp,carrier-pigeon',
      /OTEL_TRACES_EXPORTER="otlp,carrier-pigeon" is not valid: unknown carrier-pigeon/,
    ],
    [
      'OTEL_RESOURCE_ATTRIBUTES',
      'team=a%ZZ,tier=web',
      /OTEL_RESOURCE_ATTRIBUTES=.* bad percent-encoding in "team=a%ZZ"; that entry is skipped/,
    ],
    ['OTEL_LOG_LEVEL', 'loud', /OTEL_LOG_LEVEL="loud" is not valid: expected one of none, error, warn/],
    ['OTEL_SDK_DISABLED', 'yes', /OTEL_SDK_DISABLED="yes" is not valid: expected true or false/],
    [
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'carrier',
      /OTEL_EXPORTER_OTLP_PROTOCOL="carrier" is not valid: expected one of http\/protobuf, http\/json, grpc — using the default http\/protobuf/,
    ],
    ['OTEL_SERVICE_NAME', 'x'.repeat(70_000), /OTEL_SERVICE_NAME is 70000 characters long: too long/],
  ];
  for (const [name, value, expected] of cases) {
    test(`${name}=${value.length > 30 ? `${value.slice(0, 10)}…` : value}`, async () => {
      const service = name === 'OTEL_SERVICE_NAME' ? 'core-app' : serviceName();
      const marker = `bad-${process.pid}-${++serial}`;
      const env: NodeJS.ProcessEnv = { [name]: value, OTEL_RESOURCE_ATTRIBUTES: `run.marker=${marker}` };
      if (name !== 'OTEL_SERVICE_NAME') env.OTEL_SERVICE_NAME = service;
      // The argument only matters to the ratio samplers.
      if (name === 'OTEL_TRACES_SAMPLER_ARG') env.OTEL_TRACES_SAMPLER = 'parentbased_traceidratio';
      if (name === 'OTEL_RESOURCE_ATTRIBUTES') env.OTEL_RESOURCE_ATTRIBUTES = `${value},run.marker=${marker}`;
      const r = await otelRun(['node', 'app.js'], env);
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, 'done\n');
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `exactly one warning:\n${describeResult(r)}`);
      assert.match(lines[0] ?? '', /^otel-run: /);
      assert.match(lines[0] ?? '', expected);
      await receiver.waitForSpans((all) =>
        all.some((s) => s.resource['run.marker'] === marker && s.name === 'work'),
      );
    });
  }

  test('no collector running: one warning for every signal and batch, and the app unchanged', async () => {
    // A port that was just free: connections are refused there.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await otelRun(['node', 'app.js'], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, describeResult(r));
    assert.match(lines[0] ?? '', new RegExp(`^otel-run: .*127\\.0\\.0\\.1:${port}.*ECONNREFUSED.* — `));
  });

  test('secrets in headers are never printed', async () => {
    const r = await otelRun(['node', 'app.js'], {
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%ZZtopsecret',
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.match(r.stderr, /OTEL_EXPORTER_OTLP_HEADERS=\(redacted\) is not valid/);
    assert.doesNotMatch(r.stderr, /topsecret/);
  });

  test('OTEL_SDK_DISABLED=true: nothing at all', async () => {
    const before = receiver.requests.length;
    const r = await otelRun(['node', 'app.js'], { OTEL_SDK_DISABLED: 'true', OTEL_LOG_LEVEL: 'debug' });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stderr, '');
    assert.equal(receiver.requests.length, before);
  });
});

describe('the app on another @opentelemetry/api copy', () => {
  // npm gives otel-run its own 1.9 (its SDK line's peer range is < 1.10); an app may be on 1.10. The API's
  // global registry only serves readers whose minor version is at most the registering copy's, so otel-run
  // registers through the newest copy in the process: without that, an app on 1.10 would get no-op tracers.
  for (const [label, source] of [
    ['1.10 (newer than otel-run’s)', path.join(REPO_ROOT, 'node_modules', 'otel-api-1-10')],
    ['1.9 (the same line as otel-run’s)', path.join(REPO_ROOT, 'node_modules', '@opentelemetry', 'api')],
  ] as const) {
    test(`app on api ${label}: its spans arrive`, async () => {
      const dir = await copyFixture('core-app');
      const scope = path.join(dir, 'node_modules', '@opentelemetry');
      fs.mkdirSync(scope, { recursive: true });
      fs.cpSync(source, path.join(scope, 'api'), { recursive: true });
      const version = (
        JSON.parse(fs.readFileSync(path.join(scope, 'api', 'package.json'), 'utf8')) as { version: string }
      ).version;
      const service = serviceName();
      const traced = await run(process.execPath, [BIN, 'node', 'app.js'], {
        cwd: dir,
        env: envFor({ OTEL_SERVICE_NAME: service }),
      });
      assert.equal(traced.code, 0, describeResult(traced));
      assert.equal(traced.stderr, '', describeResult(traced));
      const spans = await waitForNames(service, ['work', 'work.step']);
      assert.ok(version.startsWith(label.startsWith('1.10') ? '1.10.' : '1.9.'), version);
      assert.equal(
        spans.find((s) => s.name === 'work.step')?.parentSpanId,
        spans.find((s) => s.name === 'work')?.spanId,
      );
    });
  }
});

describe('@opentelemetry/api copies of instrumentors and of another major', () => {
  // Each copy reads the global registry only when a copy of the same or a newer minor wrote it: otel-run
  // registers through the newest copy any enabled instrumentor resolves from its real folder (here a
  // separate folder, as in a container image), not only what the app's entry and cwd resolve.
  async function layout(instrumentor: string, withApi: boolean): Promise<string> {
    const root = await copyFixture('api-copies');
    const image = path.join(root, 'image', instrumentor);
    if (withApi)
      fs.cpSync(
        path.join(REPO_ROOT, 'node_modules', 'otel-api-1-10'),
        path.join(image, 'node_modules', '@opentelemetry', 'api'),
        { recursive: true },
      );
    fs.symlinkSync(image, path.join(root, 'app', 'node_modules', instrumentor));
    return path.join(root, 'app');
  }

  test('an instrumentor in another folder with api 1.10 (otel-run on 1.9): its spans and context work', async () => {
    const dir = await layout('otel-instrumentor-image', true);
    const service = serviceName();
    const traced = await run(process.execPath, [BIN, 'node', 'app.js'], {
      cwd: dir,
      env: envFor({
        OTEL_SERVICE_NAME: service,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'image',
        NODE_PATH: undefined,
      }),
    });
    assert.equal(traced.code, 0, describeResult(traced));
    assert.equal(traced.stdout, 'hello world\n');
    assert.equal(traced.stderr, '', describeResult(traced));
    const spans = await waitForNames(service, ['greet', 'greet.inner']);
    const outer = spans.find((s) => s.name === 'greet');
    const inner = spans.find((s) => s.name === 'greet.inner');
    assert.equal(inner?.parentSpanId, outer?.spanId);
    assert.equal(inner?.attributes['parent.seen'], true);
  });

  test('an instrumentor whose own @opentelemetry/api cannot be resolved: one warning, the app runs', async () => {
    const dir = await layout('otel-instrumentor-no-api', false);
    const r = await run(process.execPath, [BIN, 'node', 'app.js'], {
      cwd: dir,
      env: envFor({
        OTEL_SERVICE_NAME: serviceName(),
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'no-api',
        NODE_PATH: undefined,
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'hello world\n');
    assert.match(
      r.stderr,
      /^otel-run: instrumentor no-api \(otel-instrumentor-no-api@1\.0\.0\) failed: @opentelemetry\/api cannot be resolved from \/\S+\/image\/otel-instrumentor-no-api \(a peer dependency nobody installed: add @opentelemetry\/api to the app's dependencies\) — skipped, the app runs without it\n$/,
    );
  });

  test('the app on @opentelemetry/api 2.0.0 (another major): one warning, the app runs and is traced', async () => {
    const dir = path.join(await copyFixture('api-copies'), 'other-major');
    const service = serviceName();
    const r = await run(process.execPath, [BIN, 'node', 'app.js'], {
      cwd: dir,
      env: envFor({
        OTEL_SERVICE_NAME: service,
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        NODE_PATH: undefined,
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n');
    assert.match(
      r.stderr,
      /^otel-run: the app uses @opentelemetry\/api 2\.0\.0 \(\S+other-major\/node_modules\/@opentelemetry\/api\): another major than otel-run's 1\.x, whose providers it cannot see — its spans are not recorded; install @opentelemetry\/api@\^1 for it\n$/,
    );
    await waitForNames(service, ['GET']);
  });
});

describe('install layouts', () => {
  test('a space in the install path', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'otel run spaces '));
    try {
      const pkg = path.join(root, 'tools dir', 'otel-run');
      fs.mkdirSync(pkg, { recursive: true });
      for (const part of ['bin', 'dist', 'register', 'package.json']) {
        fs.cpSync(path.join(REPO_ROOT, part), path.join(pkg, part), { recursive: true });
      }
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
      const service = serviceName();
      const r = await run(process.execPath, [path.join(pkg, 'bin', 'otel-run.js'), 'node', 'app.js', 'env'], {
        cwd: app,
        env: envFor({ OTEL_SERVICE_NAME: service }),
      });
      assert.equal(r.code, 0, describeResult(r));
      assert.match(r.stdout, /--require "\/.*otel run spaces .*\/tools dir\/otel-run\/register\/index\.cjs"/);
      const traced = await run(process.execPath, [path.join(pkg, 'bin', 'otel-run.js'), 'node', 'app.js'], {
        cwd: app,
        env: envFor({ OTEL_SERVICE_NAME: service }),
      });
      assert.equal(traced.code, 0, describeResult(traced));
      await waitForNames(service, ['work']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
