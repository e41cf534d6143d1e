// Instrumentor discovery on test/fixtures/discovery-app: tiny real packages in every protocol form
// (object, entry-only string, array, factory, plain instrumentor, InstrumentationBase), a scoped package, a
// pnpm-like symlinked layout, and broken ones. The app runs bare and under otel-run; spans go to a real OTLP
// receiver. Then the discovery cache, and layouts built on the fly (pnpm's hoisted folder, name collisions).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { discover } from '../register/discovery/discover';
import { deriveName, readField } from '../register/discovery/manifest';
import { plan } from '../register/discovery/plan';
import { linkInstrumentation } from './helpers/link-instrumentation';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { BIN, copyFixture, describeResult, hermeticEnv, type RunResult, run } from './helpers/run';

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;

function otelRunLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('otel-run: '));
}

function appStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => !line.startsWith('otel-run: '))
    .join('\n');
}

const FIXTURE_SPANS = [
  'fake-db.query',
  'publish orders',
  'fake-kv set',
  'fake-kv get',
  'fake-cache get',
  'queue push jobs',
  'fake-log info',
];

describe('the fixture app under otel-run', { timeout: 120_000 }, () => {
  let dir: string;
  let receiver: Receiver;
  let bare: RunResult;
  const env = (extra: NodeJS.ProcessEnv = {}) =>
    hermeticEnv({
      // A second copy of fake-db-instrumentor lives there: it must be reported, never loaded.
      NODE_PATH: path.join(dir, 'vendor'),
      ...extra,
    });
  const traced = (extra: NodeJS.ProcessEnv, args: string[] = []) =>
    run(process.execPath, [BIN, ...args, process.execPath, 'app.js'], {
      cwd: dir,
      env: env({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_SERVICE_NAME: 'discovery-app',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        ...extra,
      }),
    });

  before(async () => {
    dir = await copyFixture('discovery-app');
    linkInstrumentation(dir);
    receiver = await startReceiver();
    bare = await run(process.execPath, ['app.js'], { cwd: dir, env: env() });
    assert.equal(bare.code, 0, describeResult(bare));
  });
  after(() => receiver.close());

  test('every working instrumentor traces; broken ones are one line each; the app is unharmed', async () => {
    receiver.reset();
    const r = await traced({
      OTEL_RUN_INSTRUMENTATIONS: JSON.stringify({
        'fake-bus': { team: 'core' },
        'fake-cache': { label: 'L' },
      }),
    });
    const show = `\n${describeResult(r)}\nbare:\n${describeResult(bare)}`;
    assert.equal(r.code, bare.code, show);
    assert.equal(r.stdout, bare.stdout, show);
    assert.equal(appStderr(r.stderr), appStderr(bare.stderr), show);
    assert.match(r.stdout, /^response 200 /m);
    // Entries that escape their package, instrumentors whose target is absent or outside the range, and the
    // second copy: none of their code ran.
    assert.doesNotMatch(r.stdout, /LOADED/, show);

    const lines = otelRunLines(r.stderr);
    const about = (re: RegExp) => lines.filter((l) => re.test(l));
    assert.equal(about(/\bboom\b/).length, 1, show);
    assert.match(
      about(/\bboom\b/)[0] ?? '',
      /^otel-run: instrumentor boom \(boom-instrumentor@1\.0\.0\) failed: boom: cannot patch fake-db — skipped, the app runs without it$/,
    );
    assert.match(about(/\bsneaky\b/).join('\n'), /entry "\.\/link\.js" resolves outside the package/);
    assert.match(
      about(/\bevil\b/).join('\n'),
      /entry "\.\.\/\.\.\/evil\.js" points outside the package — skipped/,
    );
    assert.match(about(/\bbroken\b/).join('\n'), /instruments\["fake-db"\] must be a semver range string/);
    assert.match(about(/\bbad-range\b/).join('\n'), /"one point two" is not a semver range/);
    assert.equal(lines.length, 5, `one line per broken instrumentor, nothing else${show}`);

    const spans = await receiver.waitForSpans((s) => FIXTURE_SPANS.every((n) => s.some((x) => x.name === n)));
    const one = (name: string): ReceivedSpan => {
      const found = spans.filter((s) => s.name === name);
      assert.equal(found.length, 1, `${name}: ${found.length} spans`);
      return found[0] as ReceivedSpan;
    };
    const server = spans.find((s) => s.kind === SERVER);
    const client = spans.find(
      (s) => s.kind === CLIENT && s.scope.name === '@opentelemetry/instrumentation-http',
    );
    assert.ok(server && client, JSON.stringify(spans.map((s) => s.name)));
    assert.equal(server.parentSpanId, client.spanId);
    for (const name of FIXTURE_SPANS) {
      const s = one(name);
      assert.equal(s.traceId, server.traceId, name);
      assert.equal(s.parentSpanId, server.spanId, `${name} runs inside the request`);
      assert.equal(s.resource['service.name'], 'discovery-app');
    }
    // The InstrumentationBase one, patched on require through its own require-in-the-middle hook.
    const query = one('fake-db.query');
    assert.equal(query.kind, CLIENT);
    assert.equal(query.scope.name, 'fake-db-instrumentor');
    assert.deepEqual(query.attributes, { 'db.system': 'fake-db', 'db.statement': 'select 1', 'db.rows': 1 });
    // The diagnostics_channel subscriber, with its options from OTEL_RUN_INSTRUMENTATIONS.
    const publish = one('publish orders');
    assert.equal(publish.kind, PRODUCER);
    assert.equal(publish.attributes['fake-bus.team'], 'core');
    assert.equal(publish.attributes['fake-bus.meter'], true);
    // The factory, loaded from an entry given without its extension.
    assert.deepEqual(one('fake-cache get').attributes, {
      'cache.key': 'greeting',
      'cache.hit': true,
      'cache.label': 'L',
    });
    // Array form, scoped package, pnpm layout.
    assert.equal(one('fake-kv get').scope.name, 'fake-kv-instrumentors');
    assert.equal(one('queue push jobs').scope.name, '@acme/queue-instrumentor');
    assert.equal(one('queue push jobs').kind, PRODUCER);
    assert.equal(one('fake-log info').attributes['log.message'], 'served /work');
    // Off by default.
    assert.ok(!spans.some((s) => s.name === 'fake-db audit on'));
  });

  test('--enable / --disable and OTEL_NODE_*_INSTRUMENTATIONS choose what runs (disabled wins)', async () => {
    receiver.reset();
    // The flags win over the variables (which would have enabled only fake-bus).
    const r = await traced({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'fake-bus' }, [
      '--enable',
      'http,fake-db,fake-db-audit,fake-kv-set,fake-kv-get',
      '--disable',
      'fake-db,fake-kv-set',
    ]);
    const show = `\n${describeResult(r)}`;
    assert.equal(r.code, 0, show);
    assert.equal(r.stdout, bare.stdout, show);
    // Only the enabled ones were considered: no warning about the broken ones' loads.
    assert.doesNotMatch(r.stderr, /\bboom\b|\bsneaky\b/, show);
    const spans = await receiver.waitForSpans(
      (s) => s.some((x) => x.name === 'fake-db audit on') && s.some((x) => x.name === 'fake-kv get'),
    );
    // The process has exited and flushed on its way out: everything it sent has arrived.
    const names = new Set(spans.map((s) => s.name));
    assert.ok(spans.some((s) => s.kind === SERVER));
    for (const absent of [
      'fake-db.query',
      'fake-kv set',
      'publish orders',
      'fake-cache get',
      'queue push jobs',
    ])
      assert.ok(!names.has(absent), `${absent} should not be traced: ${JSON.stringify([...names])}`);
  });
});

describe('the discovery cache', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await copyFixture('discovery-app');
  });

  const names = () =>
    discover({ cwd: dir })
      .candidates.map((c) => c.manifest.name)
      .sort();

  test('a second start reads no package.json; adding, removing or editing a package is seen next time', () => {
    const first = discover({ cwd: dir });
    assert.ok(first.cacheFile?.startsWith(path.join(dir, 'node_modules', '.cache', 'otel-run')));
    assert.equal(first.stats.fromCache, 0);
    assert.ok(first.stats.packagesRead >= 20, JSON.stringify(first.stats));
    assert.ok(fs.existsSync(first.cacheFile as string));

    const second = discover({ cwd: dir });
    assert.deepEqual(second.stats, {
      folders: first.stats.folders,
      fromCache: first.stats.folders,
      packagesRead: 0,
    });
    assert.deepEqual(
      second.candidates.map((c) => [c.package, c.manifest.name, c.version]),
      first.candidates.map((c) => [c.package, c.manifest.name, c.version]),
    );

    // npm install: a new folder in node_modules.
    const added = path.join(dir, 'node_modules', 'fresh-instrumentor');
    fs.mkdirSync(added);
    fs.writeFileSync(
      path.join(added, 'package.json'),
      JSON.stringify({
        name: 'fresh-instrumentor',
        version: '1.0.0',
        otelInstrumentor: { instruments: { 'fake-db': '*' } },
      }),
    );
    assert.ok(names().includes('fresh'));
    // …and inside a scope folder.
    const scoped = path.join(dir, 'node_modules', '@acme', 'cron-instrumentor');
    fs.mkdirSync(scoped);
    fs.writeFileSync(
      path.join(scoped, 'package.json'),
      JSON.stringify({ name: '@acme/cron-instrumentor', version: '1.0.0', otelInstrumentor: {} }),
    );
    assert.ok(names().includes('cron'));
    // npm uninstall.
    fs.rmSync(path.join(dir, 'node_modules', 'fake-redis-instrumentor'), { recursive: true });
    fs.rmSync(scoped, { recursive: true });
    const now = names();
    assert.ok(!now.includes('fake-redis') && !now.includes('cron'), JSON.stringify(now));

    // A linked workspace package, edited in place: no node_modules entry changes, its package.json does.
    const workspace = path.join(dir, 'packages', 'local-instrumentor');
    fs.mkdirSync(workspace, { recursive: true });
    const manifest = (name: string) =>
      JSON.stringify({ name: 'local-instrumentor', version: '1.0.0', otelInstrumentor: { name } });
    fs.writeFileSync(path.join(workspace, 'package.json'), manifest('local-one'));
    fs.symlinkSync(
      path.join('..', 'packages', 'local-instrumentor'),
      path.join(dir, 'node_modules', 'local-instrumentor'),
    );
    assert.ok(names().includes('local-one'));
    fs.writeFileSync(path.join(workspace, 'package.json'), manifest('local-two'));
    // Some file systems keep whole-second times: make the edit visible whatever the clock resolution.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(workspace, 'package.json'), later, later);
    const edited = names();
    assert.ok(edited.includes('local-two') && !edited.includes('local-one'), JSON.stringify(edited));
    assert.equal(discover({ cwd: dir }).stats.packagesRead, 0);
  });

  test('the preload uses the cache too, and a warm start loads no semver', async () => {
    const env = hermeticEnv({
      OTEL_LOG_LEVEL: 'debug',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const semverModules = 'Object.keys(require.cache).filter((f) => /[\\\\/]semver[\\\\/]/.test(f)).length';
    const args = [BIN, process.execPath, '-e', `process.stdout.write(String(${semverModules}))`];
    const cold = await run(process.execPath, args, { cwd: dir, env });
    assert.notEqual(cold.stdout, '0', `a cold start checks the ranges with semver\n${describeResult(cold)}`);
    const r = await run(process.execPath, args, { cwd: dir, env });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, '0', `range checks come from the cache\n${describeResult(r)}`);
    // An instrumentor's logger: prefixed with its name, debug lines only at debug level.
    assert.match(r.stderr, /^otel-run: \[debug\] fake-bus: subscribed to fake-bus:publish$/m);
    const line = r.stderr.split('\n').find((l) => l.includes('instrumentor discovery:'));
    assert.match(
      line ?? '',
      /instrumentor discovery: (\d+) folder\(s\), \1 from the cache, 0 package\.json read/,
      describeResult(r),
    );
  });
});

describe('the require hook', () => {
  test('runs a callback before the first require proceeds, through hooks it installs, even if it re-arms', async () => {
    // What an InstrumentationBase does (its require-in-the-middle hook wraps Module.prototype.require),
    // plus a callback that re-arms its own name, as the preload's @opentelemetry/api trigger does.
    const script = `
      const Module = require('node:module');
      const { onFirstRequire } = require(${JSON.stringify(path.join(__dirname, '..', 'register', 'hooks', 'require-hook.js'))});
      const seen = [];
      let fired = 0;
      const onZlib = () => {
        fired++;
        if (fired === 1) {
          const inner = Module.prototype.require;
          Module.prototype.require = function (id) {
            seen.push(id);
            return inner.apply(this, arguments);
          };
        }
        onFirstRequire('zlib', onZlib);
      };
      onFirstRequire('zlib', onZlib);
      const first = require('node:zlib');
      const again = require('zlib');
      console.log(JSON.stringify({ fired, seen, same: first === again, ok: typeof first.gzipSync }));
    `;
    const r = await run(process.execPath, ['-e', script]);
    assert.equal(r.code, 0, describeResult(r));
    assert.deepEqual(JSON.parse(r.stdout), {
      fired: 2,
      seen: ['node:zlib', 'zlib'],
      same: true,
      ok: 'function',
    });
  });
});

describe('discovery layouts', () => {
  let root: string;
  before(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-layouts-')));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  function write(rel: string, json: object): void {
    const file = path.join(root, rel, 'package.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(json));
  }
  function link(target: string, at: string): void {
    fs.mkdirSync(path.dirname(path.join(root, at)), { recursive: true });
    fs.symlinkSync(target, path.join(root, at));
  }
  const settings = { enabledInstrumentations: undefined, disabledInstrumentations: [] };

  test('pnpm: targets hoisted to .pnpm/node_modules, auto-instrumentations-node store siblings, NODE_PATH links', () => {
    const app = path.join(root, 'pnpm-app');
    // A target only installed as a transitive dependency.
    write('pnpm-app/node_modules/.pnpm/fake-core@2.1.0/node_modules/fake-core', {
      name: 'fake-core',
      version: '2.1.0',
    });
    link('../fake-core@2.1.0/node_modules/fake-core', 'pnpm-app/node_modules/.pnpm/node_modules/fake-core');
    write('pnpm-app/node_modules/core-instrumentor', {
      name: 'core-instrumentor',
      version: '1.0.0',
      otelInstrumentor: { instruments: { 'fake-core': '^2' } },
    });
    // @opentelemetry/auto-instrumentations-node with its instrumentations beside it in the store.
    const store = 'pnpm-app/node_modules/.pnpm/@opentelemetry+auto-instrumentations-node@0.81.2/node_modules';
    write(`${store}/@opentelemetry/auto-instrumentations-node`, {
      name: '@opentelemetry/auto-instrumentations-node',
      version: '0.81.2',
    });
    write(`${store}/@opentelemetry/instrumentation-koa`, {
      name: '@opentelemetry/instrumentation-koa',
      version: '0.71.0',
    });
    link(
      '../.pnpm/@opentelemetry+auto-instrumentations-node@0.81.2/node_modules/@opentelemetry/auto-instrumentations-node',
      'pnpm-app/node_modules/@opentelemetry/auto-instrumentations-node',
    );
    // NODE_PATH naming the app's own node_modules through a symlink: the same folder, searched once.
    link(path.join(app, 'node_modules'), 'nm-link');

    const d = discover({ cwd: app, nodePath: path.join(root, 'nm-link'), cacheDir: false });
    assert.deepEqual(d.appFolders, [
      path.join(app, 'node_modules'),
      path.join(app, 'node_modules', '.pnpm', 'node_modules'),
    ]);
    assert.equal(d.installedVersion('fake-core'), '2.1.0');
    const planned = plan(d, { settings });
    const core = planned.find((p) => p.name === 'core');
    assert.equal(core?.status, 'enabled', JSON.stringify(core?.reason));
    const koa = planned.find((p) => p.name === 'koa');
    assert.equal(koa?.candidate.package, '@opentelemetry/instrumentation-koa');
    assert.equal(koa?.status, 'target-not-installed');
    assert.equal(planned.filter((p) => p.name === 'core').length, 1);
  });

  test('names: the field wins over a catalog row and over the catalog entry for itself; nested auto-instrumentations', () => {
    const app = path.join(root, 'names-app');
    write('names-app/node_modules/@opentelemetry/instrumentation-express', {
      name: '@opentelemetry/instrumentation-express',
      version: '0.71.1',
    });
    // Sorts after the catalog package, and still takes the name.
    write('names-app/node_modules/zz-express-tracing', {
      name: 'zz-express-tracing',
      version: '1.0.0',
      otelInstrumentor: { name: 'express', instruments: { express: '*' } },
    });
    // A contrib package that ships the field itself: the field is used, not the catalog row.
    write('names-app/node_modules/@opentelemetry/instrumentation-pg', {
      name: '@opentelemetry/instrumentation-pg',
      version: '9.0.0',
      otelInstrumentor: { export: 'PgInstrumentation', instruments: { pg: '>=9' } },
    });
    write('names-app/node_modules/express', { name: 'express', version: '4.22.0' });
    // auto-instrumentations-node with a nested copy (a version conflict kept it from being hoisted).
    write('names-app/node_modules/@opentelemetry/auto-instrumentations-node', {
      name: '@opentelemetry/auto-instrumentations-node',
      version: '0.81.2',
    });
    write(
      'names-app/node_modules/@opentelemetry/auto-instrumentations-node/node_modules/@opentelemetry/instrumentation-mysql',
      {
        name: '@opentelemetry/instrumentation-mysql',
        version: '0.69.1',
      },
    );
    const planned = plan(discover({ cwd: app, cacheDir: false }), { settings });
    const mysql = planned.find((p) => p.name === 'mysql');
    assert.match(
      mysql?.candidate.dir ?? '',
      /auto-instrumentations-node\/node_modules\/@opentelemetry\/instrumentation-mysql$/,
    );
    assert.equal(mysql?.status, 'target-not-installed');
    const express = planned.filter((p) => p.name === 'express');
    assert.deepEqual(
      express.map((p) => [p.candidate.package, p.status]),
      [
        ['@opentelemetry/instrumentation-express', 'duplicate'],
        ['zz-express-tracing', 'enabled'],
      ],
    );
    assert.match(express[0]?.reason ?? '', /the name express belongs to zz-express-tracing/);
    const pg = planned.filter((p) => p.candidate.package === '@opentelemetry/instrumentation-pg');
    assert.equal(pg.length, 1);
    assert.equal(pg[0]?.candidate.manifest.source, 'field');
    assert.deepEqual(pg[0]?.candidate.manifest.targets, { pg: '>=9' });
  });

  test('derived names and malformed fields', () => {
    assert.equal(deriveName('@opentelemetry/instrumentation-pg'), 'pg');
    assert.equal(deriveName('otel-instrumentor-foo'), 'foo');
    assert.equal(deriveName('opentelemetry-instrumentation-foo'), 'foo');
    assert.equal(deriveName('@acme/foo-instrumentor'), 'foo');
    assert.equal(deriveName('foo-otel'), 'foo');
    assert.equal(deriveName('plain'), 'plain');

    const [a, b] = readField('two-instrumentors', ['./a.js', { entry: './b.js' }]);
    assert.deepEqual([a?.name, a?.entry, b?.name, b?.entry], ['two', './a.js', 'two-2', './b.js']);
    const invalid = (value: unknown) => readField('x-instrumentor', value)[0]?.invalid ?? '';
    assert.match(invalid('../evil.js'), /points outside the package/);
    assert.match(invalid({ entry: 'lib/../../evil.js' }), /points outside the package/);
    assert.match(invalid({ entry: '/etc/passwd' }), /must be relative/);
    assert.match(invalid({ entry: 'C:\\evil.js' }), /must be relative/);
    assert.match(invalid({ entry: 7 }), /entry must be a non-empty string/);
    assert.match(invalid(42), /must be a string \(entry\), an object or an array/);
    assert.match(invalid([]), /otelInstrumentor is empty/);
    assert.match(invalid({ instruments: ['fake-db'] }), /instruments must be an object/);
    assert.match(
      invalid({ instruments: { 'fake-db': ['1.x'] } }),
      /instruments\["fake-db"\] must be a semver range string/,
    );
    assert.match(invalid({ instruments: { 'express/lib/router': '*' } }), /must be a package name/);
    assert.match(invalid({ export: '' }), /export must be a non-empty string/);
    assert.match(invalid({ defaultOff: 'yes' }), /defaultOff must be true or false/);
    assert.equal(
      invalid({ name: 'ok', instruments: { 'node:http': '*', '@scope/pkg': '^1' }, futureKey: 1 }),
      '',
    );
    assert.deepEqual(readField('x', { instruments: { 'node:http': '*' } })[0]?.targets, { http: '*' });
  });
});
