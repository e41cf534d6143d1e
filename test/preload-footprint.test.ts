// Issue what the preload loads (its own dependency list stays small: modules, never time; timing lives in
// bench/), and spans exported by the trimmed OTLP exporter (register/export/otlp.ts) keep every field.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { copyFixture, describeResult, hermeticEnv, REGISTER, REPO_ROOT, run } from './helpers/run';

const REPO_MODULES = path.join(REPO_ROOT, 'node_modules');
/** Never loaded by the preload unless the configuration selects them (DECISIONS: the preload). */
const NEVER = [
  'commander',
  'cosmiconfig',
  '@grpc/grpc-js',
  '@opentelemetry/exporter-zipkin',
  '@opentelemetry/exporter-trace-otlp-grpc',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/exporter-trace-otlp-http',
  // Loaded by @opentelemetry/otlp-transformer's index, which the trace exporter must not load (export/otlp.ts).
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/sdk-logs',
];

let receiver: Receiver;
let app: string;

before(async () => {
  receiver = await startReceiver();
  app = await copyFixture('perf-app');
  // "Installed" as an app would have them: express and the two instrumentations, linked from the repo.
  for (const name of [
    'express',
    '@opentelemetry/instrumentation-http',
    '@opentelemetry/instrumentation-express',
  ]) {
    const at = path.join(app, 'node_modules', name);
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(path.join(REPO_MODULES, name), at, 'dir');
  }
});
after(async () => {
  await receiver.close();
});

/** The package a loaded file belongs to; otel-run's own files count as `otel-run`. */
function packageOf(file: string): string {
  const at = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at === -1) return file.startsWith(REPO_ROOT + path.sep) ? 'otel-run' : '(app)';
  const [first = '', second = ''] = file.slice(at + 14).split(path.sep);
  return first.startsWith('@') ? `${first}/${second}` : first;
}

/** The files the app listed (a JSON array on the last stderr line) that a bare run does not load. */
function addedPackages(traced: string, bare: string): { files: string[]; packages: string[] } {
  const list = (stderr: string) => JSON.parse(stderr.trim().split('\n').pop() ?? '[]') as string[];
  const base = new Set(list(bare).map((f) => fs.realpathSync(f)));
  const files = list(traced)
    .map((f) => fs.realpathSync(f))
    .filter((f) => !base.has(f));
  const packages = [...new Set(files.map(packageOf))].filter((p) => p !== '(app)').sort();
  return { files, packages };
}

function envFor(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return hermeticEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    ...extra,
  });
}

describe("the preload's own dependency list stays small", () => {
  test('a program that uses no instrumented library loads otel-run and at most one other package', async () => {
    const [traced, bare] = await Promise.all([
      run(process.execPath, ['--require', REGISTER, 'hello.js', '--list'], { cwd: app, env: envFor() }),
      run(process.execPath, ['hello.js', '--list'], { cwd: app, env: envFor() }),
    ]);
    assert.equal(traced.code, 0, describeResult(traced));
    assert.equal(traced.stdout, bare.stdout);
    const { files, packages } = addedPackages(traced.stderr, bare.stderr);
    const message = `packages: ${packages.join(', ')}\nfiles:\n${files.join('\n')}`;
    // The preload's own start (settings, discovery, plan, one require hook); the SDK, the instrumentors and
    // the exporters load when an instrumented library is first required, so here they never do.
    assert.ok(packages.includes('otel-run'), message);
    assert.ok(packages.length <= 2, message);
    assert.ok(files.length <= 45, message);
    for (const name of [...NEVER, '@opentelemetry/sdk-trace-base', '@opentelemetry/api']) {
      assert.ok(!packages.includes(name), `${name} loaded\n${message}`);
    }
  });

  test('an express app after its first request loads the SDK and the two instrumentors, nothing unselected', async () => {
    const env = envFor({ OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' });
    const [traced, bare] = await Promise.all([
      run(process.execPath, ['--require', REGISTER, 'express-once.js'], { cwd: app, env }),
      run(process.execPath, ['express-once.js'], { cwd: app, env }),
    ]);
    assert.equal(traced.code, 0, describeResult(traced));
    assert.equal(traced.stdout, 'status 200\n', describeResult(traced));
    assert.equal(traced.stdout, bare.stdout);
    const { files, packages } = addedPackages(traced.stderr, bare.stderr);
    const message = `packages: ${packages.join(', ')}\nfiles: ${files.length}`;
    for (const name of NEVER) assert.ok(!packages.includes(name), `${name} loaded\n${message}`);
    assert.ok(packages.includes('@opentelemetry/instrumentation-express'), message);
    // The reference loads ~94 packages for the same app (bench/); the SDK, api, core, resources,
    // instrumentation base and its hooks, and the two instrumentations are about 20.
    assert.ok(packages.length <= 25, message);
    // And the spans left.
    const server = (spans: ReceivedSpan[]) =>
      spans.find((s) => s.kind === 2 && s.name.includes('/users/:id'));
    const spans = await receiver.waitForSpans((all) => !!server(all));
    assert.equal(server(spans)?.attributes['http.route'], '/users/:id');
  });
});

describe('spans leave with every field the OTLP encoders write', () => {
  for (const protocol of ['http/protobuf', 'http/json']) {
    test(protocol, async () => {
      const service = `perf-${protocol.replace('/', '-')}-${process.pid}`;
      const r = await run(process.execPath, ['--require', REGISTER, 'spans.js'], {
        cwd: app,
        env: envFor({
          NODE_PATH: REPO_MODULES,
          OTEL_SERVICE_NAME: service,
          OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none',
        }),
      });
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, 'done\n');
      assert.equal(r.stderr, '', describeResult(r));
      const mine = (all: ReceivedSpan[]) => all.filter((s) => s.resource['service.name'] === service);
      const spans = mine(await receiver.waitForSpans((all) => mine(all).length >= 3));
      assert.equal(spans.length, 3);
      const byName = (name: string) => spans.find((s) => s.name === name) as ReceivedSpan;
      const parent = byName('parent');
      const child = byName('child');
      const elsewhere = byName('elsewhere');
      const json = protocol === 'http/json';
      assert.equal(parent.contentType.includes('json'), json);
      assert.equal(parent.traceId, '0af7651916cd43dd8448eb211c80319c');
      assert.equal(parent.parentSpanId, 'b7ad6b7169203331');
      assert.deepEqual(parent.attributes.list, ['a', 'b']);
      assert.equal(Number(parent.attributes.count), 3);
      assert.equal(parent.attributes.ratio, 0.5);
      assert.equal(parent.attributes.ok, true);
      assert.equal(parent.scope.name, 'perf-app');
      assert.equal(parent.scope.version, '1.2.3');
      assert.equal(child.parentSpanId, parent.spanId);
      assert.equal(child.traceId, parent.traceId);
      assert.equal(child.kind, 3);
      assert.deepEqual(child.status, { code: 2, message: 'not found' });
      assert.equal(child.events.length, 1);
      assert.equal(child.events[0]?.name, 'cache.miss');
      assert.equal(child.events[0]?.attributes.key, 'user:7');
      assert.equal(child.links.length, 1);
      assert.equal(child.links[0]?.traceId, '1af7651916cd43dd8448eb211c80319c');
      assert.equal(child.links[0]?.spanId, 'c7ad6b7169203331');
      assert.equal(child.links[0]?.attributes.why, 'retry');
      assert.equal(BigInt(child.endTimeUnixNano) >= BigInt(child.startTimeUnixNano), true);
      assert.equal(elsewhere.scope.name, 'perf-app-other');
      assert.equal(elsewhere.parentSpanId, parent.spanId);
      assert.equal(parent.resource['telemetry.distro.name'], 'otel-run');
    });
  }
});
