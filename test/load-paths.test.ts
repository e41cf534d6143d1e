// Every way a library gets loaded reaches the lazy activation: process.getBuiltinModule, require() of a
// package file by absolute or relative path, createRequire, and the `node:` prefix. Real child processes
// under the built CLI, the real http/express instrumentations, spans checked at a real OTLP receiver. The
// fixtures run in place with explicit enable lists (express resolves from the repo's node_modules).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  describeResult,
  FIXTURES,
  hermeticEnv,
  REGISTER,
  REPO_ROOT,
  type RunResult,
  run,
  tracesOnlyEnv,
} from './helpers/run';

const INTERNAL = 1;
const SERVER = 2;
const CLIENT = 3;
const APP = path.join(FIXTURES, 'load-paths');

let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(async () => {
  await receiver.close();
});

let serial = 0;
async function traced(
  script: string,
  args: string[],
  enabled: string,
): Promise<{ result: RunResult; service: string }> {
  serial += 1;
  const service = `load-paths-${process.pid}-${serial}`;
  const result = await run(process.execPath, [BIN, 'node', script, ...args], {
    cwd: APP,
    env: tracesOnlyEnv(receiver.url, service, enabled),
  });
  return { result, service };
}

function spansOf(service: string, all: ReceivedSpan[] = receiver.spans): ReceivedSpan[] {
  return all.filter((s) => s.resource['service.name'] === service);
}

async function waitForSpans(service: string, expected: string[]): Promise<ReceivedSpan[]> {
  const has = (spans: ReceivedSpan[]) =>
    expected.every((e) => spans.some((s) => `${s.kind} ${s.name}` === e));
  await receiver.waitForSpans((all) => has(spansOf(service, all)), 10_000).catch(() => undefined);
  return spansOf(service);
}

function shape(spans: ReceivedSpan[]): string[] {
  return spans.map((s) => `${s.scope.name} ${s.kind} ${s.name}`).sort();
}

function assertUnharmed(r: RunResult, stdout: string): void {
  assert.equal(r.code, 0, describeResult(r));
  assert.equal(r.stdout, stdout, describeResult(r));
  assert.equal(r.stderr, '', describeResult(r));
}

const EXPRESS_SPANS = [
  `${SERVER} GET /users/:id`,
  `${CLIENT} GET`,
  `${INTERNAL} middleware - query`,
  `${INTERNAL} middleware - expressInit`,
  `${INTERNAL} request handler - /users/:id`,
];

describe('every load path reaches the lazy activation', () => {
  test("process.getBuiltinModule('node:http') for a server and a client", async () => {
    const { result, service } = await traced('builtin-app.cjs', [], 'http');
    assertUnharmed(result, '200 hello /greet\n');
    const spans = await waitForSpans(service, [`${SERVER} GET`, `${CLIENT} GET`]);
    assert.deepEqual(
      shape(spans),
      ['@opentelemetry/instrumentation-http 2 GET', '@opentelemetry/instrumentation-http 3 GET'],
      describeResult(result),
    );
  });

  test('express loaded by name, by absolute and relative path, and through createRequire', async () => {
    const ways = ['by-name', 'by-absolute-path', 'by-relative-path', 'by-create-require'];
    const runs = await Promise.all(ways.map((how) => traced('express-app.cjs', [how], 'http,express')));
    const shapes: Record<string, string[]> = {};
    for (const [i, how] of ways.entries()) {
      const { result, service } = runs[i]!;
      assertUnharmed(result, '200 {"id":"42"}\n');
      shapes[how] = shape(await waitForSpans(service, EXPRESS_SPANS));
    }
    const reference = shapes['by-name']!;
    assert.ok(
      reference.some((s) => s.includes('request handler - /users/:id')),
      JSON.stringify(reference),
    );
    for (const how of ways) assert.deepEqual(shapes[how], reference, `${how} yields the spans of by-name`);
  });
});

describe('the self-check', () => {
  test('a library loaded before the preload could patch it: exactly one line naming it and its instrumentor, whether that instrumentor ran or not', async () => {
    serial += 1;
    const service = `load-paths-${process.pid}-${serial}`;
    const env = hermeticEnv({
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const [late, first, eager] = await Promise.all([
      run(process.execPath, ['-r', './early.cjs', '-r', REGISTER, 'early-app.cjs'], { cwd: APP, env }),
      run(process.execPath, ['-r', REGISTER, '-r', './early.cjs', 'early-app.cjs'], { cwd: APP, env }),
      // Strict mode builds every instrumentor at start: express's is on, but express was loaded already.
      run(process.execPath, ['-r', './early.cjs', '-r', REGISTER, 'early-app.cjs'], {
        cwd: APP,
        env: { ...env, OTEL_RUN_STRICT: 'true' },
      }),
    ]);
    assert.equal(eager.code, 0, describeResult(eager));
    assert.match(
      eager.stderr,
      /^otel-run: express is not traced: instrumentor express \(@opentelemetry\/instrumentation-express@[^)]+\) is on but its hook never saw express load \(loaded before the instrumentor was enabled, or by a path its require\/import hooks do not cover\) — run with OTEL_LOG_LEVEL=debug to see how express was loaded\n$/,
      describeResult(eager),
    );
    assert.equal(late.code, 0, describeResult(late));
    assert.equal(late.stdout, '200\n', describeResult(late));
    assert.match(
      late.stderr,
      /^otel-run: express is not traced: it was loaded before otel-run's preload could see it, so instrumentor express \(@opentelemetry\/instrumentation-express@[^)]+\) never ran — load otel-run's preload first \(before any other --require or --import that loads express\)\n$/,
      describeResult(late),
    );
    assert.equal(first.code, 0, describeResult(first));
    assert.equal(first.stderr, '', 'the preload first: express is patched and nothing is said');
    // The http spans still come: the check only names, it changes nothing.
    const spans = await waitForSpans(service, [`${SERVER} GET`]);
    assert.ok(
      spans.some((s) => s.kind === SERVER),
      JSON.stringify(shape(spans)),
    );
  });
  test('an instrumentor whose @opentelemetry/api copy the registration does not reach: exactly one line', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-self-check-'));
    try {
      const nm = path.join(tmp, 'node_modules');
      const link = (name: string) => {
        fs.mkdirSync(path.dirname(path.join(nm, name)), { recursive: true });
        fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', name), path.join(nm, name), 'dir');
      };
      for (const name of [
        'express',
        '@opentelemetry/api',
        '@opentelemetry/core',
        '@opentelemetry/instrumentation',
        '@opentelemetry/semantic-conventions',
      ])
        link(name);
      const inst = path.join(nm, '@opentelemetry', 'instrumentation-express');
      fs.cpSync(path.join(REPO_ROOT, 'node_modules', '@opentelemetry', 'instrumentation-express'), inst, {
        recursive: true,
      });
      // Its own, newer api: a copy accepts a registration made through the same or a newer minor only.
      const newer = path.join(inst, 'node_modules', '@opentelemetry', 'api');
      fs.cpSync(path.join(REPO_ROOT, 'node_modules', 'otel-api-1-10'), newer, { recursive: true });
      fs.copyFileSync(path.join(APP, 'express-app.cjs'), path.join(tmp, 'app.cjs'));
      fs.writeFileSync(path.join(tmp, 'package.json'), '{"name":"self-check-api","private":true}');
      // The app's own api, 1.9, registers first (its diag logger): the global is 1.9's for the whole process.
      fs.writeFileSync(
        path.join(tmp, 'pin.cjs'),
        "const api = require('@opentelemetry/api');\napi.diag.setLogger({ error() {}, warn() {}, info() {}, debug() {}, verbose() {} }, api.DiagLogLevel.ERROR);\n",
      );
      const r = await run(process.execPath, ['-r', './pin.cjs', '-r', REGISTER, 'app.cjs', 'by-name'], {
        cwd: tmp,
        env: hermeticEnv({
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
        }),
      });
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, '200 {"id":"42"}\n', describeResult(r));
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('otel-run: express'));
      assert.equal(lines.length, 1, describeResult(r));
      assert.match(
        lines[0] ?? '',
        /^otel-run: express not traced: instrumentor express \(@opentelemetry\/instrumentation-express@[^)]+\) reads @opentelemetry\/api 1\.10\.\d+ \(.+\), which ignores the registration made through @opentelemetry\/api 1\.9\.\d+ — its spans are lost or unparented; /,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("the pre-require hook covers require-in-the-middle's hook surface", () => {
  // Every copy an instrumentation may bring: the hoisted one and those nested under a package.
  const copies = (): string[] => {
    const out = new Set<string>();
    const walk = (dir: string, depth: number) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const full = path.join(dir, e.name);
        if (e.name === 'require-in-the-middle') out.add(fs.realpathSync(full));
        else if (e.name.startsWith('@')) walk(full, depth);
        else if (depth < 2) walk(path.join(full, 'node_modules'), depth + 1);
      }
    };
    walk(path.join(REPO_ROOT, 'node_modules'), 0);
    return [...out].sort();
  };

  const surface = async (installer: string, arg: string): Promise<string[]> => {
    const r = await run(process.execPath, ['surface.cjs', path.join(APP, installer), arg], {
      cwd: APP,
      env: hermeticEnv(),
    });
    assert.equal(r.code, 0, describeResult(r));
    return JSON.parse(r.stdout) as string[];
  };

  test('every function a require-in-the-middle Hook replaces, ours replaces too', async () => {
    const found = copies();
    assert.ok(
      found.length > 0,
      'require-in-the-middle is installed (a dependency of @opentelemetry/instrumentation)',
    );
    const ours = await surface(
      'install-ours.cjs',
      path.join(REPO_ROOT, 'dist', 'register', 'hooks', 'require-hook.js'),
    );
    for (const dir of found) {
      const version = (
        JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }
      ).version;
      const theirs = await surface('install-ritm.cjs', dir);
      assert.ok(theirs.includes('Module.prototype.require'), `${dir}: ${JSON.stringify(theirs)}`);
      const missing = theirs.filter((f) => !ours.includes(f));
      assert.deepEqual(
        missing,
        [],
        `require-in-the-middle ${version} (${dir}) hooks ${missing.join(', ')}, which otel-run's pre-require hook (register/hooks/require-hook.ts) does not: an instrumentor would never be built for loads through it`,
      );
    }
  });
});
