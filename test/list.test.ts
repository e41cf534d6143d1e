// `otel-run list` on test/fixtures/discovery-app: every instrumentor found, its package, version,
// targets with the installed version, and a status with the reason — the documented `--json` shape
// (docs/instrumentor-protocol.md), and the enable/disable lists.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import type { ListEntry } from '../register/discovery/protocol';
import { linkInstrumentation } from './helpers/link-instrumentation';
import { BIN, copyFixture, describeResult, hermeticEnv, run } from './helpers/run';

type Entry = ListEntry;

const STATUSES = [
  'enabled',
  'disabled',
  'disabled-by-default',
  'target-not-installed',
  'version-mismatch',
  'invalid',
  'failed',
  'duplicate',
];

describe('otel-run list', { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await copyFixture('discovery-app');
    linkInstrumentation(dir);
  });

  async function list(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Entry[]> {
    const r = await run(process.execPath, [BIN, 'list', '--json', ...args], {
      cwd: dir,
      env: hermeticEnv({ NODE_PATH: path.join(dir, 'vendor'), ...extra }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stderr, '', describeResult(r));
    // Valid JSON proves nothing was printed by an instrumentor list loaded (or must not have loaded).
    return JSON.parse(r.stdout) as Entry[];
  }

  /** The one entry of that name (and package) that is not a duplicate copy. */
  const find = (entries: Entry[], name: string, pkg?: string): Entry => {
    const found = entries.filter(
      (e) => e.name === name && (!pkg || e.package === pkg) && e.status !== 'duplicate',
    );
    assert.equal(found.length, 1, `${name}: ${JSON.stringify(found)}`);
    return found[0] as Entry;
  };

  test('--json: one documented entry per instrumentor, every status with its reason', async () => {
    const entries = await list([], { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fake-kv-set' });
    for (const e of entries) {
      assert.deepEqual(
        Object.keys(e).sort(),
        ['dir', 'name', 'package', 'reason', 'source', 'status', 'targets', 'version'],
        JSON.stringify(e),
      );
      assert.ok(STATUSES.includes(e.status), e.status);
      assert.equal(typeof e.reason, 'string');
      for (const t of e.targets) assert.ok(t.installed === null || typeof t.installed === 'string');
    }
    const show = (e: Entry) => `${e.name}: ${e.status} — ${e.reason}`;
    const expect = (name: string, status: string, reason: RegExp, pkg?: string): Entry => {
      const e = find(entries, name, pkg);
      assert.equal(e.status, status, show(e));
      assert.match(e.reason, reason, show(e));
      return e;
    };

    const db = expect('fake-db', 'enabled', /target fake-db@1\.2\.0 installed/, 'fake-db-instrumentor');
    assert.equal(db.version, '1.0.0');
    assert.equal(db.source, 'field');
    assert.equal(db.dir, path.join(dir, 'node_modules', 'fake-db-instrumentor'));
    assert.deepEqual(db.targets, [{ module: 'fake-db', range: '>=1 <2', installed: '1.2.0' }]);
    const copy = entries.find((e) => e.name === 'fake-db' && e.version === '1.0.1');
    assert.equal(copy?.status, 'duplicate');
    assert.match(
      copy?.reason ?? '',
      /another copy of fake-db-instrumentor \(1\.0\.0, in .*node_modules\) is used/,
    );

    expect('fake-bus', 'enabled', /no target declared: loaded at start/);
    expect('fake-cache', 'enabled', /fake-cache@3\.1\.0/);
    expect('fake-kv-get', 'enabled', /fake-kv@1\.0\.0/);
    expect('fake-kv-set', 'disabled', /disabled list/);
    expect('queue', 'enabled', /@acme\/queue@2\.3\.0/, '@acme/queue-instrumentor');
    const log = expect('fake-log', 'enabled', /fake-log@1\.0\.0/);
    assert.equal(
      log.dir,
      path.join(dir, 'node_modules', 'fake-log-instrumentor'),
      'found through its pnpm link',
    );
    // list loads an instrumentor's module, not its instrument(): boom only fails at run time.
    expect('boom', 'enabled', /fake-db@1\.2\.0/);
    expect('fake-db-audit', 'disabled-by-default', /--enable/);
    const redis = expect('fake-redis', 'target-not-installed', /fake-redis not installed/);
    assert.deepEqual(redis.targets, [{ module: 'fake-redis', range: '^4', installed: null }]);
    const legacy = expect('legacy-db', 'version-mismatch', /fake-db@1\.2\.0 is outside \^0\.9\.0/);
    assert.deepEqual(legacy.targets, [{ module: 'fake-db', range: '^0.9.0', installed: '1.2.0' }]);
    expect(
      'broken',
      'invalid',
      /name "Broken Name!" is not a valid name.*instruments\["fake-db"\] must be a semver range string/,
    );
    const badRange = expect('bad-range', 'invalid', /"one point two" is not a semver range/);
    assert.deepEqual(badRange.targets, [{ module: 'fake-db', range: 'one point two', installed: '1.2.0' }]);
    expect('evil', 'invalid', /entry "\.\.\/\.\.\/evil\.js" points outside the package/);
    expect('sneaky', 'failed', /cannot load: entry "\.\/link\.js" resolves outside the package/);

    // otel-run's own install is searched too: the http instrumentation it ships.
    const http = find(entries, 'http');
    assert.equal(http.package, '@opentelemetry/instrumentation-http');
    assert.equal(http.source, 'catalog');
    assert.equal(http.status, 'enabled');
    assert.equal(http.targets[0]?.installed, process.versions.node);

    assert.deepEqual([...new Set(entries.map((e) => e.status))].sort(), [...STATUSES].sort());
  });

  test('--enable / --disable, and the variables they stand for', async () => {
    const flags = await list(['--enable', 'fake-db,fake-db-audit,fake-kv-get', '--disable', 'fake-db']);
    assert.equal(find(flags, 'fake-db', 'fake-db-instrumentor').status, 'disabled');
    assert.match(find(flags, 'fake-db', 'fake-db-instrumentor').reason, /disabled list/);
    assert.equal(find(flags, 'fake-db-audit').status, 'enabled');
    assert.equal(find(flags, 'fake-kv-get').status, 'enabled');
    assert.equal(find(flags, 'fake-bus').status, 'disabled');
    assert.match(find(flags, 'fake-bus').reason, /not in the enabled list/);
    assert.equal(find(flags, 'http').status, 'disabled');
    // Statuses that do not depend on the lists stay.
    assert.equal(find(flags, 'evil').status, 'invalid');

    const vars = await list([], {
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'fake-db-audit, http',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http',
    });
    assert.equal(find(vars, 'fake-db-audit').status, 'enabled');
    assert.equal(find(vars, 'http').status, 'disabled');
    assert.equal(find(vars, 'fake-db', 'fake-db-instrumentor').status, 'disabled');
  });

  test('a config file counts as a run would count it: flag > environment > file', async () => {
    const rc = path.join(dir, '.otel-runrc.json');
    fs.writeFileSync(rc, JSON.stringify({ disable: ['fake-bus', 'fake-db-audit'] }));
    try {
      const fromFile = await list([]);
      assert.equal(find(fromFile, 'fake-bus').status, 'disabled');
      assert.equal(find(fromFile, 'fake-db-audit').status, 'disabled');
      // The variable wins over the file.
      const fromEnv = await list([], { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fake-bus' });
      assert.equal(find(fromEnv, 'fake-bus').status, 'disabled');
      assert.equal(find(fromEnv, 'fake-db-audit').status, 'disabled-by-default');
    } finally {
      fs.rmSync(rc);
    }
  });

  test('the table says what will run and why not', async () => {
    const r = await run(process.execPath, [BIN, 'list'], { cwd: dir, env: hermeticEnv() });
    assert.equal(r.code, 0, describeResult(r));
    const lines = r.stdout.split('\n');
    assert.match(lines[0] ?? '', /^NAME +STATUS +PACKAGE +TARGETS +REASON$/);
    assert.ok(
      lines.some((l) => /^sneaky +failed +sneaky-instrumentor@1\.0\.0 +fake-db@1\.2\.0 +cannot load/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) =>
        /^fake-redis +target-not-installed .* fake-redis \(missing\) +fake-redis not installed$/.test(l),
      ),
      r.stdout,
    );
    assert.match(r.stdout, /\n\d+ of \d+ instrumentors will run here\.\n$/);
  });
});
