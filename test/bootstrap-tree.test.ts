// `otel-run bootstrap` on a real npm-installed tree: an express 5 app (npm install express@5 into a temp folder,
// from the npm cache when it holds it). express 5 routes through the `router` package, a transitive
// dependency whose instrumentation bootstrap must recommend too, with the dependency that brings it; the same
// from the lockfile alone; doctor says it; and after `bootstrap --install` the spans equal the reference's.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOG } from '../register/discovery/catalog';
import { lineFor } from '../register/discovery/lines';
import type { ListEntry } from '../register/discovery/protocol';
import type { BootstrapReport } from '../src/bootstrap/bootstrap';
import { type ReceivedSpan, startReceiver } from './helpers/otlp-receiver';
import { BIN, describeResult, hermeticEnv, REPO_ROOT, run, start } from './helpers/run';

const SERVER = `const express = require('express');
const app = express();
const api = express.Router();
app.use(express.json());
app.use((req, res, next) => next());
api.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
app.use('/api', api);
app.get('/health', (req, res) => res.send('ok'));
const server = app.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

function npm(cwd: string, args: string[]): void {
  const r = spawnSync('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: hermeticEnv(),
    timeout: 180_000,
  });
  assert.equal(r.status, 0, `npm ${args.join(' ')} in ${cwd}:\n${r.stdout}\n${r.stderr}`);
}

function pinOf(name: string): string {
  const row = CATALOG.find((e) => e.name === name);
  return (lineFor().name === '0.30x' ? row?.next : row?.version) ?? '';
}

describe('bootstrap on an npm-installed express 5 app', { timeout: 300_000 }, () => {
  let app: string;
  before(() => {
    app = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-express5-')));
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'express5-app', version: '1.0.0', private: true }),
    );
    fs.writeFileSync(path.join(app, 'server.js'), SERVER);
    npm(app, ['install', 'express@5']);
  });
  after(() => fs.rmSync(app, { recursive: true, force: true }));

  const bootstrap = async (): Promise<BootstrapReport> => {
    const r = await run(process.execPath, [BIN, 'bootstrap', '--json'], { cwd: app, env: hermeticEnv() });
    assert.equal(r.code, 0, describeResult(r));
    return JSON.parse(r.stdout) as BootstrapReport;
  };
  const version = (name: string) =>
    (
      JSON.parse(fs.readFileSync(path.join(app, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;

  test('the transitive router is recommended, with the dependency that brings it', async () => {
    const report = await bootstrap();
    const express = version('express');
    assert.equal(report.tree, 'node_modules');
    assert.equal(report.line.name, lineFor().name);
    const by = (name: string) => report.libraries.find((l) => l.library === name);
    assert.equal(by('express')?.via, null);
    assert.equal(by('express')?.status, 'missing');
    assert.equal(by('router')?.via, `express@${express}`);
    assert.equal(by('router')?.version, version('router'));
    assert.equal(by('router')?.status, 'missing');
    assert.deepEqual(report.install, [
      `@opentelemetry/instrumentation-express@${pinOf('express')}`,
      `@opentelemetry/instrumentation-router@${pinOf('router')}`,
    ]);
    assert.ok(!report.libraries.some((l) => l.library === 'debug'), 'libraries without an instrumentation');

    const text = await run(process.execPath, [BIN, 'bootstrap'], { cwd: app, env: hermeticEnv() });
    assert.match(
      text.stdout,
      new RegExp(
        `router@${version('router')} \\(via express ${express}\\) +@opentelemetry/instrumentation-router@`,
      ),
    );

    const doctor = await run(process.execPath, [BIN, 'doctor'], {
      cwd: app,
      env: hermeticEnv({ OTEL_TRACES_EXPORTER: 'console' }),
    });
    assert.match(
      doctor.stdout,
      new RegExp(
        `no instrumentation installed for express, router \\(via express ${express}\\): only their HTTP traffic is traced`,
      ),
      describeResult(doctor),
    );
  });

  test('before an install: the same libraries from package-lock.json', async () => {
    const moved = `${app}-modules`;
    fs.renameSync(path.join(app, 'node_modules'), moved);
    try {
      const report = await bootstrap();
      assert.equal(report.tree, 'lockfile');
      const router = report.libraries.find((l) => l.library === 'router');
      assert.equal(router?.versionSource, 'lockfile');
      assert.match(router?.via ?? '', /^express@5\./);
      assert.equal(report.install.length, 2, JSON.stringify(report.install));
    } finally {
      fs.renameSync(moved, path.join(app, 'node_modules'));
    }
  });

  test('after bootstrap --install: the app’s own instrumentations run, and the spans equal the reference’s', async () => {
    const r = await run(process.execPath, [BIN, 'bootstrap', '--install'], {
      cwd: app,
      env: hermeticEnv(),
      timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal((await bootstrap()).command, null, 'nothing left to install');

    const l = await run(process.execPath, [BIN, 'list', '--json'], { cwd: app, env: hermeticEnv() });
    const entries = JSON.parse(l.stdout) as ListEntry[];
    for (const name of ['express', 'router']) {
      const e = entries.find((x) => x.name === name && x.status === 'enabled');
      assert.ok(e?.dir.startsWith(app), `${name} from the app's tree: ${JSON.stringify(e)}`);
    }

    const serve = async (args: string[], extra: NodeJS.ProcessEnv, atLeast = 0): Promise<string[]> => {
      const receiver = await startReceiver();
      const server = start(process.execPath, args, {
        cwd: app,
        env: hermeticEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_METRICS_EXPORTER: 'none',
          OTEL_LOGS_EXPORTER: 'none',
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
          ...extra,
        }),
      });
      try {
        const port = Number((await server.waitForLine(/^listening \d+$/, 30_000)).split(' ')[1]);
        for (const p of ['/api/users/42', '/health'])
          await (await fetch(`http://127.0.0.1:${port}${p}`)).text();
        // A request's SERVER span ends after the spans under it, and batches go out in order: once both are
        // in, so is the rest (and the reference gets as long as it needs to send as many).
        const spans = await receiver.waitForSpans(
          (x) => x.filter((y) => y.kind === 2).length >= 2 && x.length >= atLeast,
        );
        return spans.map((s: ReceivedSpan) => `${s.scope.name} ${s.name}`).sort();
      } finally {
        server.killGroup();
        await server.exited;
        await receiver.close();
      }
    };
    const ours = await serve([BIN, process.execPath, 'server.js'], {});
    const reference = await serve(
      ['--require', '@opentelemetry/auto-instrumentations-node/register', 'server.js'],
      {
        NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
      },
      ours.length,
    );
    assert.ok(
      ours.some((s) => s.startsWith('@opentelemetry/instrumentation-router ')),
      ours.join('\n'),
    );
    assert.deepEqual(ours, reference);
  });
});

describe('bootstrap on npm-installed fastify and Nest apps', { timeout: 300_000 }, () => {
  let app: string;
  before(() => {
    app = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-fastify-nest-')));
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'fastify-nest-app', version: '1.0.0', private: true }),
    );
    npm(app, [
      'install',
      'fastify@5',
      '@nestjs/core@11',
      '@nestjs/common@11',
      '@nestjs/platform-express@11',
      'reflect-metadata',
      'rxjs',
    ]);
  });
  after(() => fs.rmSync(app, { recursive: true, force: true }));

  test('pino through fastify; express and router through the Nest express adapter', async () => {
    const r = await run(process.execPath, [BIN, 'bootstrap', '--json'], { cwd: app, env: hermeticEnv() });
    assert.equal(r.code, 0, describeResult(r));
    const report = JSON.parse(r.stdout) as BootstrapReport;
    const via = (name: string) => {
      const l = report.libraries.find((x) => x.library === name);
      assert.ok(l, `${name} reported: ${JSON.stringify(report.libraries.map((x) => x.library))}`);
      assert.equal(l.status, 'missing', JSON.stringify(l));
      return l.via?.replace(/@[^@]*$/, '') ?? null;
    };
    assert.equal(via('pino'), 'fastify');
    assert.equal(via('@nestjs/core'), null);
    assert.equal(via('express'), '@nestjs/platform-express');
    assert.equal(via('router'), '@nestjs/platform-express');
    assert.deepEqual(
      report.install.map((p) => p.replace(/@[^@]*$/, '')),
      [
        '@opentelemetry/instrumentation-express',
        '@opentelemetry/instrumentation-nestjs-core',
        '@opentelemetry/instrumentation-pino',
        '@opentelemetry/instrumentation-router',
      ],
    );
  });
});
