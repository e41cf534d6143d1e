// What decides which instrumentation versions load: the catalog's ranges gate only the instrumentation
// version the catalog was generated from (a newer release is trusted with its own ranges); names asked for but
// not installed are said once with the install command; and the discovery cache sees a package whose version
// changed in place (its package.json rewritten, its node_modules folder untouched), in both directions.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../register/discovery/catalog';
import { discover } from '../register/discovery/discover';
import { lineFor } from '../register/discovery/lines';
import { plan } from '../register/discovery/plan';
import type { ListEntry } from '../register/discovery/protocol';
import { linkInstrumentation } from './helpers/link-instrumentation';
import { type Receiver, startReceiver } from './helpers/otlp-receiver';
import { BIN, describeResult, hermeticEnv, run } from './helpers/run';

const EXPRESS_ROW = CATALOG.find((e) => e.name === 'express');
const CATALOG_VERSION = EXPRESS_ROW?.version ?? '';

/**
 * A stand-in for a release of @opentelemetry/instrumentation-express that supports express 6: a real
 * InstrumentationBase whose own module definition accepts `>=4 <7` (the catalog's row says `<6`).
 */
function instrumentationSource(version: string): string {
  return `'use strict';
const { InstrumentationBase, InstrumentationNodeModuleDefinition } = require('@opentelemetry/instrumentation');
class ExpressInstrumentation extends InstrumentationBase {
  constructor(config = {}) { super('@opentelemetry/instrumentation-express', ${JSON.stringify(version)}, config); }
  init() {
    return new InstrumentationNodeModuleDefinition('express', ['>=4.0.0 <7'], (exports) => {
      const tracer = this.tracer;
      const handle = exports.handle;
      exports.handle = function (...args) {
        return tracer.startActiveSpan('express 6 handle', (span) => { try { return handle.apply(this, args); } finally { span.end(); } });
      };
      return exports;
    });
  }
}
module.exports = { ExpressInstrumentation };
`;
}

function writePackage(dir: string, json: object, files: Record<string, string> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(json));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

describe('catalog ranges gate only the version the catalog was generated from', { timeout: 60_000 }, () => {
  let root: string;
  let receiver: Receiver;
  before(async () => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-versions-')));
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  function app(name: string, instrumentationVersion: string): string {
    const dir = path.join(root, name);
    writePackage(dir, { name, version: '1.0.0', private: true });
    fs.writeFileSync(
      path.join(dir, 'app.js'),
      "console.log(require('express').handle());\nconsole.log(require('express/package.json').version);\n",
    );
    writePackage(
      path.join(dir, 'node_modules', 'express'),
      { name: 'express', version: '6.0.0', main: 'index.js' },
      { 'index.js': "exports.handle = () => 'handled';\n" },
    );
    writePackage(
      path.join(dir, 'node_modules', '@opentelemetry', 'instrumentation-express'),
      { name: '@opentelemetry/instrumentation-express', version: instrumentationVersion, main: 'index.js' },
      { 'index.js': instrumentationSource(instrumentationVersion) },
    );
    linkInstrumentation(dir);
    return dir;
  }

  async function list(dir: string): Promise<ListEntry> {
    const r = await run(process.execPath, [BIN, 'list', '--json'], { cwd: dir, env: hermeticEnv() });
    assert.equal(r.code, 0, describeResult(r));
    const entries = (JSON.parse(r.stdout) as ListEntry[]).filter(
      (e) => e.name === 'express' && e.dir.startsWith(dir),
    );
    assert.equal(entries.length, 1, r.stdout);
    return entries[0] as ListEntry;
  }

  test('a newer instrumentation with a wider range than the catalog: enabled for express 6, and it traces', async () => {
    assert.match(EXPRESS_ROW?.targets.express ?? '', /<6$/, 'the catalog row this test is about');
    const dir = app('newer', '0.99.0');
    const e = await list(dir);
    assert.equal(e.status, 'enabled', e.reason);
    assert.match(
      e.reason,
      new RegExp(
        `target express@6\\.0\\.0 installed; @opentelemetry/instrumentation-express@0\\.99\\.0 is not the ${CATALOG_VERSION.replace(/\./g, '\\.')} the catalog's ranges come from: its own hook checks the version`,
      ),
    );

    receiver.reset();
    const r = await run(process.execPath, [BIN, process.execPath, 'app.js'], {
      cwd: dir,
      env: hermeticEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'handled\n6.0.0\n');
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.name === 'express 6 handle'));
    assert.equal(spans.filter((s) => s.name === 'express 6 handle').length, 1);
  });

  test('the version the catalog was made from: its range decides (express 6 is a version-mismatch)', async () => {
    const e = await list(app('same', CATALOG_VERSION));
    assert.equal(e.status, 'version-mismatch', e.reason);
    assert.match(e.reason, /express@6\.0\.0 is outside >=4\.0\.0 <6/);
  });
});

describe('instrumentors named but not installed', { timeout: 60_000 }, () => {
  let dir: string;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-named-')));
    writePackage(dir, { name: 'named', version: '1.0.0', private: true });
    writePackage(path.join(dir, 'node_modules', 'pg'), { name: 'pg', version: '8.11.0' });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a contrib name: not-installed, with the install command of the line that runs on this Node', () => {
    // Without otel-run's own install (which holds the repo's devDependencies): the app's tree alone.
    const d = discover({ cwd: dir, cacheDir: false });
    const settings = { enabledInstrumentations: ['pg', 'http'], disabledInstrumentations: [] };
    const planned = plan(d, { settings, configured: ['pg', 'mysql'] });
    const pg = planned.filter((p) => p.name === 'pg');
    assert.equal(pg.length, 1, 'one entry per name, however many times it is asked for');
    assert.equal(pg[0]?.status, 'not-installed');
    const row = CATALOG.find((e) => e.name === 'pg');
    const pin = lineFor().name === '0.30x' ? row?.next : row?.version;
    assert.equal(
      pg[0]?.reason,
      `named in the enabled list, but @opentelemetry/instrumentation-pg is not installed (install it: npm install @opentelemetry/instrumentation-pg@${pin})`,
    );
    assert.deepEqual(pg[0]?.targets.find((t) => t.module === 'pg')?.installed, '8.11.0');
    const mysql = planned.find((p) => p.name === 'mysql');
    assert.equal(mysql?.status, 'not-installed');
    assert.match(
      mysql?.reason ?? '',
      /^given options in the configuration, but @opentelemetry\/instrumentation-mysql is not installed/,
    );
  });

  test('an unknown name: one warning at start, `list` says not-installed, the app is unharmed', async () => {
    const env = hermeticEnv({
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,nosuch',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    const r = await run(process.execPath, [BIN, process.execPath, '-e', 'console.log("ok")'], {
      cwd: dir,
      env,
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'ok\n');
    const lines = r.stderr.split('\n').filter((l) => l.includes('nosuch'));
    assert.deepEqual(lines, [
      'otel-run: instrumentor nosuch: named in the enabled list, but no installed package provides an instrumentor of that name, and no contrib instrumentation has it — not traced',
    ]);

    const l = await run(process.execPath, [BIN, 'list', '--json', '--enable', 'http,nosuch'], {
      cwd: dir,
      env: hermeticEnv(),
    });
    assert.equal(l.code, 0, describeResult(l));
    const entry = (JSON.parse(l.stdout) as ListEntry[]).find((e) => e.name === 'nosuch');
    assert.equal(entry?.status, 'not-installed', l.stdout);
    assert.equal(entry?.version, '');
  });

  test('a config file: its enable list and the names it gives options to', async () => {
    const rc = path.join(dir, '.otel-runrc.json');
    fs.writeFileSync(
      rc,
      JSON.stringify({ enable: ['http', 'nosuch3'], instrumentations: { nosuch2: { a: 1 } } }),
    );
    try {
      const r = await run(process.execPath, [BIN, process.execPath, '-e', 'console.log("ok")'], {
        cwd: dir,
        env: hermeticEnv({
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
        }),
      });
      assert.equal(r.code, 0, describeResult(r));
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('otel-run: '));
      assert.deepEqual(lines, [
        'otel-run: instrumentor nosuch3: named in the enabled list, but no installed package provides an instrumentor of that name, and no contrib instrumentation has it — not traced',
        'otel-run: instrumentor nosuch2: given options in the configuration, but no installed package provides an instrumentor of that name, and no contrib instrumentation has it — not traced',
      ]);
    } finally {
      fs.rmSync(rc);
    }
  });
});

describe('the discovery cache sees a version changed in place', () => {
  let dir: string;
  let cacheDir: string;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-inplace-')));
    cacheDir = path.join(dir, 'cache');
    writePackage(dir, { name: 'inplace', version: '1.0.0', private: true });
    writePackage(path.join(dir, 'node_modules', 'express'), { name: 'express', version: '6.0.0' });
    writePackage(path.join(dir, 'node_modules', '@opentelemetry', 'instrumentation-express'), {
      name: '@opentelemetry/instrumentation-express',
      version: CATALOG_VERSION,
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const FIXED = new Date('2020-01-01T00:00:00Z');
  const settings = { enabledInstrumentations: undefined, disabledInstrumentations: [] };
  function start() {
    const d = discover({ cwd: dir, cacheDir });
    const express = plan(d, { settings }).find((p) => p.name === 'express');
    return { stats: d.stats, status: express?.status, reason: express?.reason ?? '' };
  }

  /**
   * Rewrites a package.json as an in-place upgrade would, leaving every folder's time as it was, and the file's
   * size and modification time too (tar restores the archive's time; npm's tarballs all carry the same one).
   */
  function rewriteInPlace(rel: string, version: string): void {
    const nm = path.join(dir, 'node_modules');
    const pkgDir = path.join(nm, rel);
    const file = path.join(pkgDir, 'package.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string };
    const size = fs.statSync(file).size;
    json.version = version;
    const text = JSON.stringify(json);
    fs.writeFileSync(file, text);
    if (rel === 'express')
      assert.equal(Buffer.byteLength(text), size, 'same size: only the change time differs');
    pinTimes([rel]);
  }

  /** Every folder of the tree, and the package.json files of `packages`, at one fixed time. */
  function pinTimes(packages: string[]): void {
    const nm = path.join(dir, 'node_modules');
    for (const rel of ['', '@opentelemetry', 'express', '@opentelemetry/instrumentation-express'])
      fs.utimesSync(path.join(nm, rel), FIXED, FIXED);
    for (const rel of packages) fs.utimesSync(path.join(nm, rel, 'package.json'), FIXED, FIXED);
  }

  test('a target moved into the range, then out of it; an instrumentor upgraded: each seen by the next start', () => {
    pinTimes(['express', '@opentelemetry/instrumentation-express']);
    const cold = start();
    assert.equal(cold.status, 'version-mismatch', cold.reason);
    const warm = start();
    assert.equal(warm.stats.fromCache, warm.stats.folders, 'a warm start');
    assert.equal(warm.stats.packagesRead, 0);

    rewriteInPlace('express', '4.9.0');
    const into = start();
    assert.equal(into.status, 'enabled', into.reason);
    assert.match(into.reason, /express@4\.9\.0/);
    assert.equal(into.stats.fromCache, into.stats.folders, 'still no folder rescanned');
    assert.equal(into.stats.packagesRead, 1, 'only the changed package.json is read again');

    rewriteInPlace('express', '6.0.0');
    const out = start();
    assert.equal(out.status, 'version-mismatch', out.reason);
    assert.match(out.reason, /express@6\.0\.0 is outside/);

    rewriteInPlace('@opentelemetry/instrumentation-express', '0.99.0');
    const upgraded = start();
    assert.equal(upgraded.status, 'enabled', upgraded.reason);
    assert.match(upgraded.reason, /instrumentation-express@0\.99\.0 is not the/);
    assert.equal(start().stats.packagesRead, 0, 'and the next start is warm again');
  });
});
