// The fault matrix, part three: what a hostile machine or input can do. Config files planted by another user,
// the shared temp folder, empty values, secrets in URLs and on the command line, sizes that broke the start,
// a collector that trickles, names that look like package managers, escape sequences in span names. Each
// promise of docs/security.md has a row or a test here. Harness: helpers/faults.ts (`alone`: the preload alone
// in NODE_OPTIONS, besides the CLI).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { linkPackages, matrix, ours, ROOT, WARNING } from './helpers/faults';
import { type ReceivedSpan, startReceiver } from './helpers/otlp-receiver';
import { BIN, copyFixture, describeResult, hermeticEnv, REGISTER, run } from './helpers/run';

const FIXTURE = 'faults-security';
/** Another local user: the owner of what is planted. */
const OTHER_UID = 4242;
const PLANTED = 'PLANTED CODE RAN';
const UID = process.getuid?.() ?? 0;
const SERVER = 2;
const NO_METRICS = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };
/** The preload alone with no exporter: its own lines are all about the config. */
const NOTHING_SENT = {
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
};
const CLIENT = 3;

function needsRoot(): string | undefined {
  return ROOT ? undefined : 'making a file owned by another user needs root';
}

/** A folder every user can write to, as /tmp: sticky, mode 1777. */
function sharedFolder(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o1777);
}

function plant(file: string, text: string, uid = OTHER_UID): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.chownSync(file, uid, uid);
}

const PLANTED_JS = `process.stdout.write(${JSON.stringify(`${PLANTED}\n`)});\nprocess.stderr.write(${JSON.stringify(`${PLANTED}\n`)});\nmodule.exports = { tracesExporter: 'console' };\n`;

/** The app copied into `dir` (a folder of its own, below the shared one). */
function appIn(root: string, dir: string): void {
  fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.copyFileSync(path.join(root, 'app.js'), path.join(root, dir, 'app.js'));
}

const serverPaths = (spans: ReceivedSpan[]) =>
  spans
    .filter((s) => s.kind === SERVER)
    .map((s) => String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? ''));

const HTTP_STDOUT = '/kept 200\n/ignored-7 200\ndone\n';

// 4. Config files: only from the app's own project, never one another user could have written; nothing
// at all when disabled.
matrix('fault matrix: config files another user planted', [
  {
    name: 'a JavaScript config planted in a shared parent folder, no project: never looked at',
    fixture: FIXTURE,
    cwd: 'shared/work',
    alone: true,
    setup(root) {
      const skip = needsRoot();
      if (skip) return skip;
      fs.rmSync(path.join(root, 'package.json'));
      sharedFolder(path.join(root, 'shared'));
      appIn(root, 'shared/work');
      plant(path.join(root, 'shared', 'otel-run.config.js'), PLANTED_JS);
      return undefined;
    },
    expect: { code: 0, stdout: 'done\n', spans: ['work'], nowhere: [PLANTED] },
  },
  {
    name: 'a JavaScript config planted by another user in the shared working directory: refused, one line',
    fixture: FIXTURE,
    cwd: 'shared',
    alone: true,
    setup(root) {
      const skip = needsRoot();
      if (skip) return skip;
      fs.rmSync(path.join(root, 'package.json'));
      sharedFolder(path.join(root, 'shared'));
      appIn(root, 'shared');
      plant(path.join(root, 'shared', 'otel-run.config.js'), PLANTED_JS);
      return undefined;
    },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      nowhere: [PLANTED],
      once: [
        new RegExp(
          `^otel-run: config file .*otel-run\\.config\\.js: not used: the file .* is owned by uid ${OTHER_UID}, not by this user \\(uid ${UID}\\) or root — it is ignored`,
        ),
      ],
    },
  },
  {
    name: 'a data config planted by another user: it redirects no span and adds no attribute',
    fixture: FIXTURE,
    cwd: 'shared',
    alone: true,
    setup(root) {
      const skip = needsRoot();
      if (skip) return skip;
      fs.rmSync(path.join(root, 'package.json'));
      sharedFolder(path.join(root, 'shared'));
      appIn(root, 'shared');
      plant(
        path.join(root, 'shared', '.otel-runrc.json'),
        JSON.stringify({ tracesExporter: 'console', resourceAttributes: 'planted=yes' }),
      );
      return undefined;
    },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      absentResource: ['planted'],
      once: [/^otel-run: config file .*\.otel-runrc\.json: not used: the file .* is owned by uid 4242/],
    },
  },
  {
    name: "a link in the project to another user's file: refused",
    fixture: FIXTURE,
    alone: true,
    setup(root) {
      const skip = needsRoot();
      if (skip) return skip;
      plant(path.join(root, 'elsewhere', 'config.js'), PLANTED_JS);
      fs.symlinkSync(path.join(root, 'elsewhere', 'config.js'), path.join(root, 'otel-run.config.js'));
      return undefined;
    },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      nowhere: [PLANTED],
      once: [
        /^otel-run: config file .*otel-run\.config\.js: not used: the file .*config\.js is owned by uid 4242/,
      ],
    },
  },
  {
    name: 'a config in a project folder every user can write to: refused',
    fixture: FIXTURE,
    alone: true,
    setup(root) {
      fs.writeFileSync(
        path.join(root, '.otel-runrc.json'),
        JSON.stringify({ resourceAttributes: 'team=own' }),
      );
      fs.chmodSync(root, 0o777);
      return undefined;
    },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      absentResource: ['team'],
      once: [
        /^otel-run: config file .*\.otel-runrc\.json: not used: its folder .* is writable by every user \(mode 0777\)/,
      ],
    },
  },
  {
    name: "the project's own config, owned by this user: used (CLI and preload alone)",
    fixture: FIXTURE,
    alone: true,
    setup(root) {
      fs.writeFileSync(
        path.join(root, 'otel-run.config.js'),
        "module.exports = { resourceAttributes: 'team=own' };\n",
      );
      return undefined;
    },
    expect: { code: 0, stdout: 'done\n', spans: ['work'], resource: { team: 'own' } },
  },
  {
    name: "OTEL_SDK_DISABLED=true: not even the project's own JavaScript config runs",
    fixture: FIXTURE,
    alone: true,
    env: { OTEL_SDK_DISABLED: 'true' },
    setup(root) {
      fs.writeFileSync(path.join(root, 'otel-run.config.js'), PLANTED_JS);
      return undefined;
    },
    expect: { code: 0, stdout: 'done\n', spans: [], maxSpans: 0, nowhere: [PLANTED] },
  },
]);

// 5. The discovery cache outside node_modules: a private folder in the temp folder, or none.
const TEMP_CACHE = `otel-run-${UID}`;
/** An app with no node_modules anywhere above it: its discovery cache goes to the temp folder (../tmp). */
function noModules(root: string): void {
  appIn(root, 'bare');
  fs.rmSync(path.join(root, 'bare', 'node_modules'), { recursive: true, force: true });
  sharedFolder(path.join(root, 'tmp'));
}
const TEMP_ENV = { TMPDIR: '../tmp' };
const hasServerSpan = (spans: ReceivedSpan[]) =>
  spans.some((s) => s.kind === SERVER) ? undefined : 'no server span';

/** The temp cache folder is ours alone, with a cache in it that only we can read. */
function privateCache(root: string): string | undefined {
  const dir = path.join(root, 'tmp', TEMP_CACHE);
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return `${dir} was not made`;
  if ((st.mode & 0o777) !== 0o700) return `${dir} has mode ${(st.mode & 0o777).toString(8)}`;
  const files = fs.readdirSync(dir);
  if (!files.some((f) => /^discovery-.*\.json$/.test(f))) return `no cache in ${dir}: ${files}`;
  for (const f of files) {
    const mode = fs.statSync(path.join(dir, f)).mode & 0o777;
    if (mode !== 0o600) return `${f} has mode ${mode.toString(8)}`;
  }
  return undefined;
}

matrix('fault matrix: the shared temp folder', [
  {
    name: 'the temp cache folder made first by another user, writable by all: not used, nothing written in it',
    fixture: FIXTURE,
    cwd: 'bare',
    args: ['http'],
    alone: true,
    env: TEMP_ENV,
    setup(root) {
      const skip = needsRoot();
      if (skip) return skip;
      noModules(root);
      const trap = path.join(root, 'tmp', TEMP_CACHE);
      fs.mkdirSync(trap);
      fs.chmodSync(trap, 0o777);
      fs.chownSync(trap, OTHER_UID, OTHER_UID);
      return undefined;
    },
    expect: {
      code: 0,
      stdout: '/kept 200\n/ignored-7 200\ndone\n',
      spans: [],
      check: hasServerSpan,
      after: (root) => {
        const left = fs.readdirSync(path.join(root, 'tmp', TEMP_CACHE));
        return left.length ? `written into another user's folder: ${left.join(', ')}` : undefined;
      },
    },
  },
  {
    name: 'a link at the temp cache folder name: not followed',
    fixture: FIXTURE,
    cwd: 'bare',
    args: ['http'],
    alone: true,
    env: TEMP_ENV,
    setup(root) {
      noModules(root);
      fs.mkdirSync(path.join(root, 'victim'));
      fs.symlinkSync(path.join(root, 'victim'), path.join(root, 'tmp', TEMP_CACHE));
      return undefined;
    },
    expect: {
      code: 0,
      stdout: HTTP_STDOUT,
      spans: [],
      check: hasServerSpan,
      after: (root) => {
        const left = fs.readdirSync(path.join(root, 'victim'));
        return left.length ? `written through the link: ${left.join(', ')}` : undefined;
      },
    },
  },
  {
    name: "an earlier otel-run's temp cache folder (0755, ours): narrowed to 0700 and used",
    fixture: FIXTURE,
    cwd: 'bare',
    args: ['http'],
    alone: true,
    env: TEMP_ENV,
    setup(root) {
      noModules(root);
      fs.mkdirSync(path.join(root, 'tmp', TEMP_CACHE), { mode: 0o755 });
      fs.chmodSync(path.join(root, 'tmp', TEMP_CACHE), 0o755);
      return undefined;
    },
    expect: { code: 0, stdout: HTTP_STDOUT, spans: [], check: hasServerSpan, after: privateCache },
  },
  {
    name: 'the temp cache folder is made private (0700), its files 0600',
    fixture: FIXTURE,
    cwd: 'bare',
    args: ['http'],
    alone: true,
    env: TEMP_ENV,
    setup(root) {
      noModules(root);
      return undefined;
    },
    expect: {
      code: 0,
      stdout: HTTP_STDOUT,
      spans: [],
      check: hasServerSpan,
      after: privateCache,
    },
  },
]);

// 8. An empty value means unset, as the spec and the official SDK have it.
const parentLinked = (spans: ReceivedSpan[]) => {
  const clients = new Set(spans.filter((s) => s.kind === CLIENT).map((s) => s.spanId));
  const servers = spans.filter((s) => s.kind === SERVER);
  if (servers.length === 0) return 'no server span';
  return servers.every((s) => clients.has(s.parentSpanId))
    ? undefined
    : 'a server span is not the child of its client span: no context was propagated';
};
matrix('fault matrix: empty values', [
  {
    name: 'OTEL_TRACES_EXPORTER="": the default exporter, not none',
    fixture: FIXTURE,
    alone: true,
    env: { OTEL_TRACES_EXPORTER: '' },
    expect: { code: 0, stdout: 'done\n', spans: ['work'] },
  },
  {
    name: 'OTEL_PROPAGATORS="": the default propagators, not none',
    fixture: FIXTURE,
    args: ['http'],
    alone: true,
    env: { OTEL_PROPAGATORS: '' },
    expect: { code: 0, stdout: HTTP_STDOUT, spans: [], check: parentLinked },
  },
  {
    name: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS="": every default instrumentor, not none',
    fixture: FIXTURE,
    args: ['http'],
    alone: true,
    env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: '' },
    // Unset, discovery also finds the otel-run checkout's own instrumentations (devDependencies).
    noisy: true,
    expect: { code: 0, stdout: HTTP_STDOUT, spans: [], check: hasServerSpan },
  },
  {
    name: 'OTEL_NODE_RESOURCE_DETECTORS="": the default detectors, not none',
    fixture: FIXTURE,
    alone: true,
    env: { OTEL_NODE_RESOURCE_DETECTORS: '' },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      check: (spans) =>
        spans.every((s) => 'process.pid' in s.resource && 'host.name' in s.resource)
          ? undefined
          : 'resource without process.pid or host.name: no detector ran',
    },
  },
]);

// 9. Secrets: an endpoint's credentials are never printed.
const PASSWORD = 's3cret-pass';
const TOKEN = 't0ken-value';
matrix('fault matrix: secrets in an endpoint URL', [
  {
    name: 'credentials in the endpoint URL, --verbose startup line and failed-export warnings: never printed',
    fixture: FIXTURE,
    args: ['natural'],
    alone: true,
    endpoint: 'refused',
    env: {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://user:${PASSWORD}@127.0.0.1:9/v1/traces?api_key=${TOKEN}`,
      OTEL_LOG_LEVEL: 'info',
    },
    noisy: true,
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: [],
      stderr: [
        /traces to otlp http\/protobuf to http:\/\/<redacted>@127\.0\.0\.1:9\/v1\/traces\?api_key=<redacted>/,
        /failed/,
      ],
      nowhere: [PASSWORD, TOKEN],
    },
  },
]);

describe('secrets: env, doctor and the command line', () => {
  const endpoint = `https://user:${PASSWORD}@collector.example:4318/?token=${TOKEN}`;
  for (const [name, args] of [
    ['otel-run env', ['env']],
    ['otel-run env --format k8s', ['env', '--format', 'k8s']],
    ['otel-run env --format dockerfile', ['env', '--format', 'dockerfile']],
    ['otel-run doctor', ['doctor', '--timeout', '200']],
    ['otel-run doctor --json', ['doctor', '--json', '--timeout', '200']],
  ] as const) {
    test(`${name}: the endpoint's credentials are never printed`, async () => {
      const dir = await copyFixture(FIXTURE);
      const r = await run(process.execPath, [BIN, ...args], {
        cwd: dir,
        env: hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }),
      });
      const all = r.stdout + r.stderr;
      assert.ok(!all.includes(PASSWORD) && !all.includes(TOKEN), describeResult(r));
      if (args[0] === 'env') {
        assert.equal(r.code, 0, describeResult(r));
        assert.match(all, /OTEL_EXPORTER_OTLP_ENDPOINT/, 'referenced, as a secret');
      } else {
        assert.match(r.stdout, /<redacted>@collector\.example/, describeResult(r));
      }
    });
  }

  test('--exporter-otlp-headers @file: the secret reaches the collector and never the command line', async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    const file = path.join(dir, 'headers');
    fs.writeFileSync(file, `authorization=Bearer ${TOKEN}\n`, { mode: 0o600 });
    const receiver = await startReceiver();
    try {
      const r = await run(
        process.execPath,
        [
          BIN,
          '--exporter-otlp-headers',
          `@${file}`,
          process.execPath,
          '-e',
          'console.log(process.argv.join(" "))',
        ],
        { cwd: dir, env: hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }) },
      );
      assert.equal(r.code, 0, describeResult(r));
      assert.ok(!r.stdout.includes(TOKEN), describeResult(r));
      const r2 = await run(
        process.execPath,
        [
          BIN,
          '--exporter-otlp-headers',
          `@${file}`,
          '--process-span',
          process.execPath,
          path.join(dir, 'app.js'),
        ],
        { cwd: dir, env: hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }) },
      );
      assert.equal(r2.code, 0, describeResult(r2));
      const auth = receiver.requests.map((q) => q.headers.authorization);
      assert.ok(auth.includes(`Bearer ${TOKEN}`), `headers received: ${JSON.stringify(auth)}`);
    } finally {
      await receiver.close();
    }
  });

  test('--exporter-otlp-headers @missing-file: exit 2 with the reason, the command never runs', async () => {
    const r = await run(process.execPath, [
      BIN,
      '--exporter-otlp-headers',
      '@/nonexistent/headers',
      process.execPath,
      '-e',
      'console.log("ran")',
    ]);
    assert.equal(r.code, 2, describeResult(r));
    assert.equal(r.stdout, '', describeResult(r));
    assert.match(
      r.stderr,
      /--exporter-otlp-headers @\/nonexistent\/headers: cannot be read: ENOENT/,
      describeResult(r),
    );
  });
});

// 12. Sizes: large options never stop the app from starting; a huge config file is not read.
const PATTERNS = Array.from({ length: 20_000 }, (_, i) => `/ignored-${i}`);
matrix('fault matrix: sizes', [
  {
    name: '20,000 ignore patterns in the config file: the app starts (no E2BIG) and they apply',
    fixture: FIXTURE,
    args: ['http'],
    alone: true,
    setup(root) {
      fs.writeFileSync(
        path.join(root, '.otel-runrc.json'),
        JSON.stringify({ instrumentations: { http: { ignoreIncomingPaths: PATTERNS } } }),
      );
      return undefined;
    },
    expect: {
      code: 0,
      stdout: HTTP_STDOUT,
      spans: [],
      check: (spans) => {
        const paths = serverPaths(spans);
        if (!paths.includes('/kept')) return `no server span for /kept (${paths})`;
        return paths.includes('/ignored-7') ? 'an ignored path was traced' : undefined;
      },
    },
  },
]);

describe('sizes: a config file over 1 MiB', () => {
  const big = JSON.stringify({ serviceName: 'big', padding: 'x'.repeat(2 * 1024 * 1024) });
  test('the preload alone: one warning, the file is not read, the app runs as bare', async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    fs.writeFileSync(path.join(dir, '.otel-runrc.json'), big);
    const bare = await run(process.execPath, ['app.js'], { cwd: dir, env: hermeticEnv() });
    const r = await run(process.execPath, ['app.js'], {
      cwd: dir,
      env: hermeticEnv({ NODE_OPTIONS: `--require ${REGISTER}`, ...NOTHING_SENT }),
    });
    assert.equal(r.code, bare.code, describeResult(r));
    assert.equal(r.stdout, bare.stdout, describeResult(r));
    const lines = ours(r.stderr);
    assert.equal(lines.length, 1, describeResult(r));
    assert.match(lines[0] ?? '', WARNING);
    assert.match(
      lines[0] ?? '',
      /\.otel-runrc\.json: is \d+ bytes, more than otel-run reads \(1048576 bytes\) \(.*\) — the file is ignored$/,
    );
  });
  test('the CLI: exit 2 with the reason and a hint, before the app starts', async () => {
    const dir = await copyFixture(FIXTURE);
    fs.writeFileSync(path.join(dir, '.otel-runrc.json'), big);
    const r = await run(process.execPath, [BIN, process.execPath, '-e', 'console.log("ran")'], {
      cwd: dir,
      env: hermeticEnv(),
    });
    assert.equal(r.code, 2, describeResult(r));
    assert.equal(r.stdout, '', describeResult(r));
    assert.match(r.stderr, /is \d+ bytes, more than otel-run reads/, describeResult(r));
    assert.match(r.stderr, /^ {2}hint: /m, describeResult(r));
  });
});

/** A collector that answers with headers, then a byte every 10 ms (never idle for a socket timeout), never ending; counts its open sockets. */
async function tricklingCollector(): Promise<{
  url: string;
  most: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<import('node:net').Socket>();
  let most = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    const t = setInterval(() => res.write('\0'), 10);
    timers.add(t);
    res.on('close', () => {
      clearInterval(t);
      timers.delete(t);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    most = Math.max(most, sockets.size);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    most: () => most,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a collector that trickles its answer: sockets stay bounded, the app ends as bare', async () => {
  const dir = await copyFixture(FIXTURE);
  linkPackages(dir, ['@opentelemetry/api']);
  const collector = await tricklingCollector();
  // Spans every 10 ms for 3 s, exported every 20 ms, each export given 50 ms: a socket a trickled answer
  // kept would make ~60.
  const busy = `const api = require('@opentelemetry/api'); const t = api.trace.getTracer('busy');
const i = setInterval(() => t.startSpan('tick').end(), 10);
setTimeout(() => { clearInterval(i); console.log('done'); }, 3000);`;
  try {
    const r = await run(process.execPath, [BIN, process.execPath, '-e', busy], {
      cwd: dir,
      env: hermeticEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_BSP_SCHEDULE_DELAY: '20',
        OTEL_BSP_EXPORT_TIMEOUT: '50',
        OTEL_EXPORTER_OTLP_TIMEOUT: '50',
        OTEL_RUN_FLUSH_TIMEOUT: '300',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n', describeResult(r));
    assert.ok(collector.most() <= 8, `${collector.most()} sockets open at once${describeResult(r)}`);
  } finally {
    await collector.close();
  }
});

// 13. Smaller things.
matrix('fault matrix: smaller things', [
  {
    name: 'a script named like a yarn release but not one (yarn-seed.js): traced',
    fixture: FIXTURE,
    script: 'yarn-seed.js',
    alone: true,
    setup(root) {
      fs.copyFileSync(path.join(root, 'app.js'), path.join(root, 'yarn-seed.js'));
      return undefined;
    },
    expect: { code: 0, stdout: 'done\n', spans: ['work'] },
  },
  {
    name: 'a script in a folder named corepack: traced',
    fixture: FIXTURE,
    script: 'corepack/app.js',
    alone: true,
    setup(root) {
      fs.mkdirSync(path.join(root, 'corepack'));
      fs.copyFileSync(path.join(root, 'app.js'), path.join(root, 'corepack', 'app.js'));
      return undefined;
    },
    expect: { code: 0, stdout: 'done\n', spans: ['work'] },
  },
  {
    name: 'a discovery cache of the wrong shape: a miss, rewritten, tracing on',
    fixture: FIXTURE,
    alone: true,
    setup(root) {
      // A cache as this layout makes it, then damaged: each folder's entry of the wrong shape.
      spawnSync(process.execPath, ['app.js'], {
        cwd: root,
        env: hermeticEnv({
          NODE_OPTIONS: `--require ${REGISTER}`,
          OTEL_TRACES_EXPORTER: 'none',
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
        }),
      });
      return damageCaches(root) ? undefined : 'no discovery cache was written to damage';
    },
    expect: {
      code: 0,
      stdout: 'done\n',
      spans: ['work'],
      // Whole again after the run; damaged once more for the next way of running.
      after: (root) => {
        const bad = cacheFiles(root).find((f) => {
          const c = JSON.parse(fs.readFileSync(f, 'utf8')) as {
            folders: Record<string, { packages?: unknown }>;
          };
          return Object.values(c.folders).some((s) => !s.packages || typeof s.packages !== 'object');
        });
        damageCaches(root);
        return bad ? `${bad} was not rewritten` : undefined;
      },
    },
  },
  {
    name: 'the terminal view into a pipe, FORCE_COLOR=1, escape sequences in a span name: plain text',
    fixture: FIXTURE,
    args: ['hostile'],
    alone: true,
    env: { OTEL_TRACES_EXPORTER: 'pretty', FORCE_COLOR: '1', NO_COLOR: '' },
    noisy: true,
    expect: { code: 0, stdout: 'done\n', spans: [], nowhere: ['\u001b', '\u0007'] },
  },
]);

function cacheFiles(root: string): string[] {
  const dir = path.join(root, 'node_modules', '.cache', 'otel-run');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^discovery-.*\.json$/.test(f))
    .map((f) => path.join(dir, f));
}

function damageCaches(root: string): boolean {
  const files = cacheFiles(root);
  for (const f of files) {
    const c = JSON.parse(fs.readFileSync(f, 'utf8')) as { folders: Record<string, Record<string, unknown>> };
    // Still fresh by its times, with nothing where the packages should be.
    for (const scan of Object.values(c.folders)) scan.packages = null;
    fs.writeFileSync(f, JSON.stringify(c));
  }
  return files.length > 0;
}

// A config module exporting a Promise: neither side uses it (the preload cannot wait for one), both say why.
describe('a config file that exports a Promise', () => {
  const promised = "module.exports = Promise.resolve({ resourceAttributes: 'team=promise' });\n";
  test('the preload alone: one warning, the file is ignored', async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    fs.writeFileSync(path.join(dir, 'otel-run.config.js'), promised);
    const r = await run(process.execPath, ['app.js'], {
      cwd: dir,
      env: hermeticEnv({ NODE_OPTIONS: `--require ${REGISTER}`, ...NOTHING_SENT }),
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'done\n', describeResult(r));
    const lines = ours(r.stderr);
    assert.equal(lines.length, 1, describeResult(r));
    assert.match(
      lines[0] ?? '',
      /otel-run\.config\.js: exports a Promise \(export the settings object itself.*\) — the file is ignored$/,
    );
  });
  test('the CLI: exit 2 with the same reason, before the app starts', async () => {
    const dir = await copyFixture(FIXTURE);
    fs.writeFileSync(path.join(dir, 'otel-run.config.js'), promised);
    const r = await run(process.execPath, [BIN, process.execPath, '-e', 'console.log("ran")'], {
      cwd: dir,
      env: hermeticEnv(),
    });
    assert.equal(r.code, 2, describeResult(r));
    assert.equal(r.stdout, '', describeResult(r));
    assert.match(
      r.stderr,
      /otel-run: exports a Promise \(.*otel-run\.config\.js\)\n {2}hint: export the settings object itself/,
      describeResult(r),
    );
  });
});

// 11. Node features: a busy thread pool at exit, the permission model, --env-file.
matrix('fault matrix: Node features', [
  {
    name: 'the default localhost endpoint, the thread pool busy at process.exit: the spans still leave',
    fixture: FIXTURE,
    args: ['busy-pool'],
    alone: true,
    appEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:{port}', UV_THREADPOOL_SIZE: '4' },
    env: { OTEL_RUN_FLUSH_TIMEOUT: '1000' },
    expect: { code: 2, stdout: 'exiting with 2\n', spans: ['work'] },
  },
]);

describe("Node's permission model", () => {
  // `--permission` since Node 22.13 and 23.5; Node 20 knows only the experimental name, Node 24 only the new one.
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const flag = major > 22 || (major === 22 && minor >= 13) ? '--permission' : '--experimental-permission';
  const permission = (dir: string) => [flag, `--allow-fs-read=${dir}`];
  test("otel-run's files not in --allow-fs-read: the CLI allows reading them (only them), the app runs traced", async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    const receiver = await startReceiver();
    try {
      const args = [...permission(dir), 'app.js'];
      const bare = await run(process.execPath, args, { cwd: dir, env: hermeticEnv() });
      const r = await run(process.execPath, [BIN, process.execPath, ...args], {
        cwd: dir,
        env: hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...NO_METRICS }),
      });
      assert.equal(bare.code, 0, describeResult(bare));
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, bare.stdout, describeResult(r));
      assert.deepEqual(ours(r.stderr), [], describeResult(r));
      assert.ok(
        receiver.spans.some((s) => s.name === 'work'),
        describeResult(r),
      );
    } finally {
      await receiver.close();
    }
  });

  test('no --allow-worker, process.exit: same exit code, one line that says why the last spans are lost', async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    const args = [...permission(dir), 'app.js', 'exit'];
    const bare = await run(process.execPath, args, { cwd: dir, env: hermeticEnv() });
    const r = await run(process.execPath, [BIN, process.execPath, ...args], {
      cwd: dir,
      env: hermeticEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', ...NO_METRICS }),
    });
    assert.equal(bare.code, 3, describeResult(bare));
    assert.equal(r.code, 3, describeResult(r));
    assert.equal(r.stdout, bare.stdout, describeResult(r));
    const lines = ours(r.stderr);
    assert.equal(lines.length, 1, describeResult(r));
    assert.match(lines[0] ?? '', /permission model is on without --allow-worker.* — they are lost$/);
  });

  test('the preload alone, its folder allowed, a script with no package.json: the app runs traced', async () => {
    const dir = await copyFixture(FIXTURE);
    linkPackages(dir, ['@opentelemetry/api']);
    // The look for a project root then goes above the folders allowed, where every stat is refused.
    fs.rmSync(path.join(dir, 'package.json'));
    const receiver = await startReceiver();
    try {
      const r = await run(
        process.execPath,
        [...permission(dir), `--allow-fs-read=${path.dirname(path.dirname(REGISTER))}`, 'app.js'],
        {
          cwd: dir,
          env: hermeticEnv({
            NODE_OPTIONS: `--require ${REGISTER}`,
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            ...NO_METRICS,
          }),
        },
      );
      assert.equal(r.code, 0, describeResult(r));
      assert.equal(r.stdout, 'done\n', describeResult(r));
      assert.deepEqual(ours(r.stderr), [], describeResult(r));
      assert.ok(
        receiver.spans.some((s) => s.name === 'work'),
        describeResult(r),
      );
    } finally {
      await receiver.close();
    }
  });
});

test("node --env-file=.env: the file's NODE_OPTIONS still apply under the CLI", async () => {
  const dir = await copyFixture(FIXTURE);
  fs.writeFileSync(path.join(dir, '.env'), 'NODE_OPTIONS="--title=from-env-file"\n');
  const args = ['--env-file=.env', '-e', 'console.log(process.title)'];
  const bare = await run(process.execPath, args, { cwd: dir, env: hermeticEnv() });
  const r = await run(process.execPath, [BIN, process.execPath, ...args], {
    cwd: dir,
    env: hermeticEnv({ OTEL_TRACES_EXPORTER: 'none', ...NO_METRICS }),
  });
  assert.equal(bare.stdout, 'from-env-file\n', describeResult(bare));
  assert.equal(r.code, 0, describeResult(r));
  assert.equal(r.stdout, bare.stdout, describeResult(r));
});
