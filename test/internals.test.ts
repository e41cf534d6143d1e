// Canaries for the private internals of other packages that otel-run relies on (docs/internals.md lists each,
// with its pin). The behaviour tests named there fail too when one of these changes, but some only degrade
// (a lazy start turning eager, a scrape getting traced): these say which internal moved, at once.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { collectSync } from '../register/sdk/metrics-sync';
import { describeResult, REPO_ROOT, run } from './helpers/run';

// The copies the preload uses: import-in-the-middle and require-in-the-middle as @opentelemetry/instrumentation
// resolves them (hooks/esm.ts ownIitm), everything else from otel-run's own folder.
const own = createRequire(path.join(REPO_ROOT, 'package.json'));
const viaInstrumentation = createRequire(own.resolve('@opentelemetry/instrumentation'));

async function inChild(script: string): Promise<string> {
  const r = await run(process.execPath, ['-e', script], { cwd: REPO_ROOT });
  assert.equal(r.code, 0, describeResult(r));
  return r.stdout.trim();
}

describe('import-in-the-middle (hooks/esm.ts)', () => {
  const index = viaInstrumentation.resolve('import-in-the-middle');
  const dir = path.dirname(index);

  test('hook.mjs sits next to the index, and lib/register.js shares the array addHook fills', () => {
    assert.ok(fs.existsSync(path.join(dir, 'hook.mjs')), `${dir}/hook.mjs`);
    const iitm = viaInstrumentation(index) as {
      addHook(h: () => void): void;
      removeHook(h: () => void): void;
      createAddHookMessageChannel?: () => { registerOptions: { data?: { include?: unknown } } };
    };
    const shared = viaInstrumentation(path.join(dir, 'lib', 'register.js')) as { importHooks?: unknown };
    assert.ok(Array.isArray(shared.importHooks), 'lib/register.js exports importHooks as an array');
    const hooks = shared.importHooks as unknown[];
    const hook = () => {};
    iitm.addHook(hook);
    try {
      assert.equal(hooks.at(-1), hook, 'addHook appends to lib/register.js importHooks, in order');
    } finally {
      iitm.removeHook(hook);
    }
    assert.ok(!hooks.includes(hook));
    const channel = iitm.createAddHookMessageChannel?.();
    assert.ok(
      Array.isArray(channel?.registerOptions.data?.include),
      'registerOptions.data.include is a list',
    );
  });
});

describe('require-in-the-middle (hooks/require-hook.ts)', () => {
  test('a Hook replaces Module.prototype.require, which the require hook re-dispatches through', async () => {
    const out = await inChild(`
      const Module = require('node:module');
      const { createRequire } = Module;
      const base = createRequire(require.resolve('@opentelemetry/instrumentation'));
      const before = Module.prototype.require;
      const { Hook } = base('require-in-the-middle');
      let seen = 0;
      new Hook(['zlib'], (exports) => { seen++; return exports; });
      const replaced = Module.prototype.require !== before;
      require('zlib');
      console.log(JSON.stringify({ replaced, seen }));
    `);
    assert.deepEqual(JSON.parse(out), { replaced: true, seen: 1 });
  });
});

describe('@opentelemetry/instrumentation wrap (sdk/prometheus.ts)', () => {
  test('a wrapped http.Server.prototype.emit keeps the original under __original', async () => {
    const out = await inChild(`
      const http = require('node:http');
      const plain = http.Server.prototype.emit;
      const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
      new HttpInstrumentation().enable();
      const wrapped = require('node:http').Server.prototype.emit;
      let emit = wrapped;
      while (typeof emit.__original === 'function') emit = emit.__original;
      console.log(JSON.stringify({ wrapped: wrapped !== plain, unwrapped: emit === plain }));
    `);
    assert.deepEqual(JSON.parse(out), { wrapped: true, unwrapped: true });
  });
});

describe('@opentelemetry/sdk-metrics (sdk/metrics-sync.ts)', () => {
  test('collectSync reads what collect() reads: counters, observable and batch observable callbacks', async () => {
    const { MeterProvider, MetricReader } = own(
      '@opentelemetry/sdk-metrics',
    ) as typeof import('@opentelemetry/sdk-metrics');
    class Reader extends MetricReader {
      protected override async onShutdown(): Promise<void> {}
      protected override async onForceFlush(): Promise<void> {}
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('canary');
    meter.createCounter('requests').add(3, { route: '/a' });
    meter.createObservableGauge('temperature').addCallback((r) => r.observe(21));
    const queue = meter.createObservableUpDownCounter('queue');
    meter.addBatchObservableCallback((r) => r.observe(queue, 5), [queue]);

    const points = (
      scopeMetrics: { metrics: { descriptor: { name: string }; dataPoints: { value: unknown }[] }[] }[],
    ) =>
      Object.fromEntries(
        scopeMetrics.flatMap((s) =>
          s.metrics.map((m) => [m.descriptor.name, m.dataPoints.map((p) => p.value)]),
        ),
      );
    const sync = collectSync(reader);
    assert.ok(sync, 'collectSync found the internals it walks (undefined means they changed)');
    const viaSdk = (await reader.collect()).resourceMetrics;
    assert.deepEqual(points(sync.scopeMetrics as never), { requests: [3], temperature: [21], queue: [5] });
    assert.deepEqual(points(sync.scopeMetrics as never), points(viaSdk.scopeMetrics as never));
    assert.equal(sync.resource, viaSdk.resource);
    await provider.shutdown();
  });
});

describe('@opentelemetry/otlp-transformer (export/otlp.ts, export/slots.ts)', () => {
  test('build/src/<signal>/<format> holds each serializer, without the package index', () => {
    const dirs = { trace: 'Trace', metrics: 'Metrics', logs: 'Logs' };
    for (const [dir, name] of Object.entries(dirs)) {
      for (const [format, prefix] of [
        ['json', 'Json'],
        ['protobuf', 'Protobuf'],
      ] as const) {
        const mod = own(`@opentelemetry/otlp-transformer/build/src/${dir}/${format}`) as Record<
          string,
          unknown
        >;
        const serializer = mod[`${prefix}${name}Serializer`] as { serializeRequest?: unknown } | undefined;
        assert.equal(
          typeof serializer?.serializeRequest,
          'function',
          `${dir}/${format} ${prefix}${name}Serializer`,
        );
      }
    }
  });
});

describe('@opentelemetry/api (sdk/tracing.ts foreignProviderRegistered)', () => {
  test("the global registry lives under Symbol.for('opentelemetry.js.api.1') with a trace entry", () => {
    const api = own('@opentelemetry/api') as typeof import('@opentelemetry/api');
    const { BasicTracerProvider } = own(
      '@opentelemetry/sdk-trace-base',
    ) as typeof import('@opentelemetry/sdk-trace-base');
    const key = Symbol.for('opentelemetry.js.api.1');
    const g = globalThis as Record<symbol, { trace?: unknown } | undefined>;
    assert.equal(g[key]?.trace, undefined);
    api.trace.setGlobalTracerProvider(new BasicTracerProvider());
    try {
      assert.ok(g[key]?.trace, 'a registered tracer provider is visible at the key');
    } finally {
      api.trace.disable();
    }
  });
});
