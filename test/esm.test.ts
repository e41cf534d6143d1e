// Issue ES module apps traced out of the box. Real child processes under the built CLI (and the preload
// alone), the real express/http instrumentations, spans checked at a real OTLP receiver. The fixtures run in
// place with explicit enable lists: `import` ignores NODE_PATH, so a temp copy could not find express.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Planned } from '../register/discovery/plan';
import { esmNeed, iitmCopies, loaderCopy, mayImportTargets } from '../register/hooks/esm';
import { packageOfFile } from '../register/hooks/require-hook';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  describeResult,
  FIXTURES,
  hermeticEnv,
  REPO_ROOT,
  type RunResult,
  run,
  tracesOnlyEnv,
} from './helpers/run';

const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;

let receiver: Receiver;

before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

let serial = 0;
function serviceName(): string {
  serial += 1;
  return `esm-${process.pid}-${serial}`;
}

function tracedEnv(service: string, enabled: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return tracesOnlyEnv(receiver.url, service, enabled, extra);
}

interface Traced {
  result: RunResult;
  service: string;
}

async function otelRun(
  fixture: string,
  args: string[],
  enabled: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<Traced> {
  const service = serviceName();
  const result = await run(process.execPath, [BIN, ...args], {
    cwd: path.join(FIXTURES, fixture),
    env: tracedEnv(service, enabled, extra),
  });
  return { result, service };
}

function bare(fixture: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, args, { cwd: path.join(FIXTURES, fixture), env: hermeticEnv(extra) });
}

function spansOf(service: string, all: ReceivedSpan[] = receiver.spans): ReceivedSpan[] {
  return all.filter((s) => s.resource['service.name'] === service);
}

/** Waits until the run's spans include one per expected `kind name`, then returns all of them. */
async function waitForSpans(service: string, expected: string[]): Promise<ReceivedSpan[]> {
  const has = (spans: ReceivedSpan[]) =>
    expected.every((e) => spans.some((s) => `${s.kind} ${s.name}` === e));
  await receiver.waitForSpans((all) => has(spansOf(service, all)));
  return spansOf(service);
}

/** What makes two runs' spans "the same": scope, kind and name of each, sorted. */
function shape(spans: ReceivedSpan[]): string[] {
  return spans.map((s) => `${s.scope.name} ${s.kind} ${s.name}`).sort();
}

function assertUnharmed(traced: RunResult, plain: RunResult): void {
  assert.equal(traced.code, plain.code, describeResult(traced));
  assert.equal(traced.signal, plain.signal, describeResult(traced));
  assert.equal(traced.stdout, plain.stdout, describeResult(traced));
  assert.equal(traced.stderr, '', describeResult(traced));
}

const EXPRESS_SPANS = [
  `${SERVER} GET /users/:id`,
  `${CLIENT} GET`,
  `${INTERNAL} middleware - query`,
  `${INTERNAL} middleware - expressInit`,
  `${INTERNAL} request handler - /users/:id`,
];

describe('an ES module app yields the spans of its CommonJS twin', () => {
  test('express with "type": "module"', async () => {
    const [esm, cjs, plain] = await Promise.all([
      otelRun('esm-express', ['node', 'app.js'], 'http,express'),
      otelRun('esm-express', ['node', 'app.cjs'], 'http,express'),
      bare('esm-express', ['app.js']),
    ]);
    assert.equal(plain.stdout, '200 {"id":"42"}\n', describeResult(plain));
    assertUnharmed(esm.result, plain);
    assertUnharmed(cjs.result, plain);
    const esmSpans = await waitForSpans(esm.service, EXPRESS_SPANS);
    const cjsSpans = await waitForSpans(cjs.service, EXPRESS_SPANS);
    assert.deepEqual(shape(esmSpans), shape(cjsSpans));
    const server = esmSpans.find((s) => s.kind === SERVER)!;
    const handler = esmSpans.find((s) => s.name === 'request handler - /users/:id')!;
    assert.equal(handler.traceId, server.traceId);
    assert.equal(server.attributes['http.route'], '/users/:id');
  });

  test('an .mjs app importing node:http (named imports)', async () => {
    const [esm, cjs, plain] = await Promise.all([
      otelRun('esm-http', ['node', 'app.mjs'], 'http'),
      otelRun('esm-http', ['node', 'app.cjs'], 'http'),
      bare('esm-http', ['app.mjs']),
    ]);
    assert.equal(plain.stdout, '200 hello /greet\n', describeResult(plain));
    assertUnharmed(esm.result, plain);
    assertUnharmed(cjs.result, plain);
    const expected = [`${SERVER} GET`, `${CLIENT} GET`];
    const esmSpans = await waitForSpans(esm.service, expected);
    const cjsSpans = await waitForSpans(cjs.service, expected);
    assert.deepEqual(shape(esmSpans), shape(cjsSpans));
    const client = esmSpans.find((s) => s.kind === CLIENT)!;
    const server = esmSpans.find((s) => s.kind === SERVER)!;
    assert.equal(server.parentSpanId, client.spanId, 'the server span continues the client trace');
  });

  test('the same with the preload alone: NODE_OPTIONS="--import …/register/index.mjs"', async () => {
    const service = serviceName();
    const entry = path.join(REPO_ROOT, 'register', 'index.mjs');
    const [traced, plain] = await Promise.all([
      run(process.execPath, ['app.mjs'], {
        cwd: path.join(FIXTURES, 'esm-http'),
        env: tracedEnv(service, 'http', { NODE_OPTIONS: `--import ${entry}` }),
      }),
      bare('esm-http', ['app.mjs']),
    ]);
    assertUnharmed(traced, plain);
    await waitForSpans(service, [`${SERVER} GET`, `${CLIENT} GET`]);
  });
});

describe('a module both required and imported is patched once', () => {
  for (const script of ['esm-first.mjs', 'cjs-first.mjs']) {
    test(`an ES module app with a CommonJS library that requires http (${script})`, async () => {
      const [traced, plain] = await Promise.all([
        otelRun('esm-mixed', ['node', script], 'http'),
        bare('esm-mixed', [script]),
      ]);
      assert.equal(plain.stdout, 'cjs 200 hi /from-cjs; esm 200\n', describeResult(plain));
      assertUnharmed(traced.result, plain);
      const spans = await waitForSpans(traced.service, [`${SERVER} GET`, `${CLIENT} GET`]);
      const paths = (kind: number) =>
        spans
          .filter((s) => s.kind === kind)
          .map((s) => s.attributes['url.path'] ?? s.attributes['url.full'])
          .map((p) => String(p).replace(/^http:\/\/[^/]+/, ''))
          .sort();
      // Spans of one process all arrive in its last flush, before it exits: no later duplicates to wait for.
      assert.deepEqual(paths(SERVER), ['/from-cjs', '/from-esm'], JSON.stringify(shape(spans)));
      assert.deepEqual(paths(CLIENT), ['/from-cjs', '/from-esm'], JSON.stringify(shape(spans)));
      assert.equal(spans.length, 4, JSON.stringify(shape(spans)));
    });
  }
});

describe('instrumentors and scripts', () => {
  test('field-based instrumentors patch an ES module library, an imported CommonJS one and a builtin', async () => {
    const [traced, plain] = await Promise.all([
      otelRun('esm-lib', ['node', 'app.js'], 'greeter,counter,os'),
      bare('esm-lib', ['app.js']),
    ]);
    assert.equal(plain.stdout, 'hello esm 1 string\n');
    assertUnharmed(traced.result, plain);
    const expected = [`${INTERNAL} greet`, `${INTERNAL} count`, `${INTERNAL} hostname`];
    const spans = await waitForSpans(traced.service, expected);
    const greet = spans.find((s) => s.name === 'greet');
    assert.equal(greet?.scope.name, 'greeter-instrumentor');
    assert.equal(greet?.attributes['greeter.name'], 'esm');
    assert.equal(spans.find((s) => s.name === 'count')?.scope.name, 'counter-instrumentor');
  });

  test('a short ES module script that makes one request ends on its own, and its span arrives', async () => {
    const target = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(target.address() as AddressInfo).port}/once`;
      const [traced, plain] = await Promise.all([
        otelRun('esm-http', ['node', 'once.mjs', url], 'http'),
        bare('esm-http', ['once.mjs', url]),
      ]);
      assert.equal(plain.stdout, 'status 200\n');
      // run() kills a process that is still there after 30 s: ending with 0 means it ended by itself.
      assertUnharmed(traced.result, plain);
      const [client] = await waitForSpans(traced.service, [`${CLIENT} GET`]);
      assert.equal(client?.attributes['url.full'], url);
    } finally {
      target.closeAllConnections();
      await new Promise((resolve) => target.close(resolve));
    }
  });
});

describe('TypeScript runners', () => {
  const withBin = {
    PATH: `${path.join(REPO_ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
  };
  const expected = [`${SERVER} GET /users/:id`, `${CLIENT} GET`, `${INTERNAL} request handler - /users/:id`];

  test('otel-run tsx src/main.ts and otel-run node --import tsx src/main.ts', async () => {
    const [viaCli, viaImport, plain] = await Promise.all([
      otelRun('esm-tsx', ['tsx', 'src/main.ts'], 'http,express', withBin),
      otelRun('esm-tsx', ['node', '--import', 'tsx', 'src/main.ts'], 'http,express', withBin),
      bare('esm-tsx', ['--import', 'tsx', 'src/main.ts'], withBin),
    ]);
    assert.equal(plain.stdout, '200 {"id":"7"}\n', describeResult(plain));
    assertUnharmed(viaCli.result, plain);
    assertUnharmed(viaImport.result, plain);
    const a = await waitForSpans(viaCli.service, expected);
    const b = await waitForSpans(viaImport.service, expected);
    assert.deepEqual(shape(a), shape(b));
  });
});

describe('when the hooks are registered', () => {
  test('not in a CommonJS process; OTEL_RUN_ESM=off turns them off; a bad value is named', async () => {
    const [cjs, off, bad] = await Promise.all([
      otelRun('esm-express', ['node', 'app.cjs'], 'http,express', { OTEL_LOG_LEVEL: 'debug' }),
      otelRun('esm-express', ['node', 'app.js'], 'http,express', {
        OTEL_RUN_ESM: 'off',
        OTEL_LOG_LEVEL: 'debug',
      }),
      otelRun('esm-http', ['node', 'app.mjs'], 'http', { OTEL_RUN_ESM: 'maybe' }),
    ]);
    assert.equal(cjs.result.code, 0, describeResult(cjs.result));
    assert.doesNotMatch(cjs.result.stderr, /ES module hooks/);
    assert.equal(off.result.code, 0, describeResult(off.result));
    assert.doesNotMatch(off.result.stderr, /ES module hooks/);
    // No loader, yet express (CommonJS) is still patched: its import reaches Module._load, where the require
    // hook builds its instrumentor and hands it the loaded exports (register/hooks/require-hook.ts).
    await waitForSpans(off.service, [`${SERVER} GET /users/:id`, `${INTERNAL} request handler - /users/:id`]);
    assert.equal(bad.result.code, 0, describeResult(bad.result));
    assert.equal(
      bad.result.stderr,
      'otel-run: OTEL_RUN_ESM="maybe" is not valid: expected one of auto, on, off — using the default auto\n',
      describeResult(bad.result),
    );
    await waitForSpans(bad.service, [`${SERVER} GET`, `${CLIENT} GET`]);
  });

  test("the upstream recipe's own loader (--experimental-loader …/hook.mjs) is used, not doubled", async () => {
    const loader = '--experimental-loader=@opentelemetry/instrumentation/hook.mjs';
    const [traced, plain] = await Promise.all([
      otelRun('esm-http', ['node', '--no-warnings', loader, 'app.mjs'], 'http'),
      bare('esm-http', ['--no-warnings', loader, 'app.mjs']),
    ]);
    assertUnharmed(traced.result, plain);
    const spans = await waitForSpans(traced.service, [`${SERVER} GET`, `${CLIENT} GET`]);
    assert.equal(spans.length, 2, JSON.stringify(shape(spans)));
  });
});

describe('esmNeed (which processes get the hooks)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-esm-need-'));
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('typed/package.json', '{"type":"module"}');
    write('typed/app.js', 'console.log(1)\n');
    write('typed/index.js', 'console.log(1)\n');
    write('typed/tool.cjs', 'console.log(1)\n');
    write('plain/package.json', '{"name":"plain"}');
    write('plain/cjs.js', "const x = require('x');\n// import x from 'x' in a comment\n");
    write('plain/esm.js', "const a = 1;\nimport x from 'x';\n");
    write('plain/dynamic.js', "import('x').then(() => {});\n");
    write('plain/meta.js', 'console.log(import.meta.url);\n');
    write('plain/app.mjs', '');
    write('plain/app.ts', '');
    write('cjs/package.json', '{"type":"commonjs"}');
    write('cjs/esm-looking.js', "import x from 'x';\n");
    write('node_modules/tsx/dist/cli.mjs', '');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const need = (entry: string | undefined, more: Partial<Parameters<typeof esmNeed>[0]> = {}) =>
    esmNeed({
      mode: 'auto',
      entry: entry && path.join(dir, entry),
      execArgv: [],
      nodeOptions: undefined,
      ...more,
    }).reason;

  test('entries', () => {
    assert.match(need('plain/app.mjs') ?? '', /ES module entry app\.mjs/);
    assert.match(need('typed/app.js') ?? '', /"type": "module"/);
    assert.match(need('typed/app') ?? '', /"type": "module"/, '`node app` runs app.js');
    assert.match(need('typed') ?? '', /"type": "module"/, '`node typed` runs typed/index.js');
    assert.match(need('plain/esm.js') ?? '', /ES module syntax/);
    assert.match(need('plain/meta.js') ?? '', /ES module syntax/);
    assert.match(need('plain/app.ts') ?? '', /TypeScript entry/);
    assert.equal(need('typed/tool.cjs'), undefined);
    assert.equal(need('plain/cjs.js'), undefined);
    assert.equal(need('plain/dynamic.js'), undefined);
    assert.equal(need('cjs/esm-looking.js'), undefined, '"type": "commonjs" is never detected');
    assert.equal(need('node_modules/tsx/dist/cli.mjs'), undefined, "tsx's launcher only spawns");
    assert.equal(need('plain/missing.js'), undefined);
    assert.equal(need(undefined), undefined);
  });

  test('flags and the setting', () => {
    assert.match(need('plain/cjs.js', { execArgv: ['--import', 'tsx'] }) ?? '', /TypeScript runner \(tsx\)/);
    assert.match(need('plain/cjs.js', { nodeOptions: '--loader=ts-node/esm' }) ?? '', /ts-node\/esm/);
    assert.match(
      need('plain/cjs.js', { execArgv: ['--import', 'file:///x/node_modules/tsx/dist/loader.mjs'] }) ?? '',
      /TypeScript runner/,
    );
    assert.equal(need('plain/cjs.js', { execArgv: ['--import', './dotenv-setup.mjs'] }), undefined);
    assert.match(need(undefined, { execArgv: ['--input-type=module'] }) ?? '', /--input-type=module/);
    assert.match(need('plain/cjs.js', { mode: 'on' }) ?? '', /OTEL_RUN_ESM=on/);
    assert.equal(need('plain/app.mjs', { mode: 'off' }), undefined);
    const user = esmNeed({
      mode: 'auto',
      entry: path.join(dir, 'plain/app.mjs'),
      execArgv: ['--experimental-loader=@opentelemetry/instrumentation/hook.mjs'],
      nodeOptions: undefined,
    });
    assert.equal(user.userHook, '@opentelemetry/instrumentation/hook.mjs');
  });

  test('mayImportTargets: which require()d ES modules register the hooks', () => {
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('node_modules/async-function/package.json', '{"name":"async-function"}');
    write('node_modules/async-function/index.js', 'module.exports = async function () {}.constructor;\n');
    write('node_modules/esm-pkg/package.json', '{"name":"esm-pkg","type":"module"}');
    write('node_modules/esm-pkg/index.js', "import pg from 'pg';\nexport default pg;\n");
    write('plain/syntax.js', "import x from 'x';\n");
    const may = (rel: string, source: string) =>
      mayImportTargets(source, path.join(dir, rel), ['http', 'express']);
    // get-intrinsic's require.mjs files: only their own CommonJS index.js.
    const shim = "import getAsyncFunction from './index.js';\nexport default getAsyncFunction;\n";
    assert.equal(may('node_modules/async-function/require.mjs', shim), false);
    assert.equal(may('x/leaf.mjs', 'export const x = 1;\n'), false);
    assert.equal(
      may('x/a.mjs', "import fs from 'node:fs';\nimport './b.cjs';\nimport d from './d.json';\n"),
      false,
    );
    assert.equal(may('x/a.mjs', "import { get } from 'node:http';\n"), true, 'a target builtin');
    assert.equal(may('x/a.mjs', "import 'http';\n"), true);
    assert.equal(may('x/a.mjs', "import express from 'express';\n"), true, 'a target');
    assert.equal(
      may('x/a.mjs', "export { x } from 'some-lib';\n"),
      true,
      'a package may import a target in turn',
    );
    assert.equal(may('x/a.mjs', "const m = await import('./later.js');\n"), true, 'import() is not read');
    assert.equal(may('x/a.mjs', "import './b.mjs';\n"), true, 'an ES module file');
    assert.equal(
      may('node_modules/esm-pkg/main.js', "import './index.js';\n"),
      true,
      '.js under "type": "module"',
    );
    assert.equal(may('plain/a.mjs', "import './syntax.js';\n"), true, '.js with ES module syntax, no "type"');
    assert.equal(may('x/a.mjs', "import {\n  a,\n  b,\n} from\n  'express';\n"), true, 'across lines');
  });

  test('packageOfFile', () => {
    const p = (...parts: string[]) => parts.join(path.sep);
    assert.equal(packageOfFile(p('', 'a', 'node_modules', 'express', 'index.js')), 'express');
    assert.equal(packageOfFile(p('', 'a', 'node_modules', '@s', 'p', 'lib', 'x.js')), '@s/p');
    assert.equal(
      packageOfFile(p('', 'a', 'node_modules', '.pnpm', 'pg@8.0.0', 'node_modules', 'pg', 'lib', 'index.js')),
      'pg',
    );
    assert.equal(packageOfFile(p('', 'a', 'src', 'app.js')), undefined);
  });

  test('iitmCopies: every copy an instrumentor resolves, from its real folder; loaderCopy: the newest', () => {
    const fake = (root: string, version: string) => {
      const d = path.join(root, 'node_modules', 'import-in-the-middle');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, 'index.js'), '');
      fs.writeFileSync(path.join(d, 'hook.mjs'), '');
      fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ version }));
      return fs.realpathSync(d);
    };
    const planned = (name: string, pkgDir: string): Planned =>
      ({
        name,
        status: 'enabled',
        targets: [],
        reason: '',
        candidate: {
          package: name,
          version: '1.0.0',
          dir: pkgDir,
          nodeModules: path.dirname(pkgDir),
          fromApp: true,
          manifest: { name, targets: {}, source: 'field' },
        },
      }) as Planned;
    const app = path.join(dir, 'choose');
    const hoisted = fake(app, '3.1.0');
    const a = path.join(app, 'node_modules', 'inst-a');
    const b = path.join(app, 'node_modules', 'inst-b');
    for (const d of [a, b]) fs.mkdirSync(d, { recursive: true });
    // inst-c lives in a pnpm-like store: the app's node_modules holds a link, its dependencies are siblings.
    const store = path.join(dir, 'store', 'node_modules');
    fs.mkdirSync(path.join(store, 'inst-c'), { recursive: true });
    const nested = fake(path.dirname(store), '3.6.0');
    const c = path.join(app, 'node_modules', 'inst-c');
    fs.symlinkSync(path.join(store, 'inst-c'), c, 'dir');
    const copies = iitmCopies([planned('a', a), planned('b', b), planned('c', c)]);
    assert.deepEqual(
      [...copies].sort(),
      [
        [hoisted, ['a', 'b']],
        [nested, ['c']],
      ].sort(),
    );
    assert.equal(loaderCopy(copies.keys(), undefined), nested, 'the newest copy, however few use it');
    assert.equal(loaderCopy([hoisted], nested), nested);
  });
});
