// Issue the config file (every format, found from the working directory up to the project root), one
// precedence (flag > OTEL_* variable > file > default) seen at a real OTLP receiver, per-instrumentor options
// in effect with the real instrumentation-http, every error case, and the preload used alone.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadFirstAsync } from '../register/config/load';
import { readConfig } from '../register/config/read';
import { findConfigFile, searchConfig } from '../register/config/search';
import { checkConfig, suggestKey } from '../register/config/validate';
import {
  compileMatcher,
  requestOptionsUrl,
  toInstrumentationConfig,
} from '../register/settings/instrumentation-options';
import { resolveConfig } from '../src/common/config';
import { type ReceivedSpan, startReceiver } from './helpers/otlp-receiver';
import {
  BIN,
  copyFixture,
  describeResult,
  hermeticEnv,
  REGISTER,
  REPO_ROOT,
  type RunResult,
  run,
} from './helpers/run';

const temps: string[] = [];
after(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder holding `files` (path → content); its realpath. */
function project(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-config-')));
  temps.push(dir);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const PKG = JSON.stringify({ name: 'config-formats', private: true });

/** What the CLI loads from `dir`: the preload's search and loader, with import() for ES modules. */
function loadConfig(dir: string, named?: string) {
  return loadFirstAsync(searchConfig(dir, named));
}
/** Node can require() an ES module (20.19+, 22.12+): the preload alone then reads .mjs configs too. */
const REQUIRE_ESM = (process.features as { require_module?: boolean }).require_module === true;

const FORMATS: Array<{ name: string; files: (service: string) => Record<string, string>; esm?: boolean }> = [
  {
    name: 'package.json "otel-run" key',
    files: (s) => ({ 'package.json': JSON.stringify({ name: 'x', 'otel-run': { serviceName: s } }) }),
  },
  {
    name: '.otel-runrc as JSON',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc': `{"serviceName": "${s}"}` }),
  },
  {
    name: '.otel-runrc as YAML',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc': `serviceName: ${s}\n` }),
  },
  {
    name: '.otel-runrc.json',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.json': `{"serviceName":"${s}"}` }),
  },
  {
    name: '.otel-runrc.yaml',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.yaml': `serviceName: ${s}` }),
  },
  {
    name: '.otel-runrc.yml',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.yml': `serviceName: "${s}"` }),
  },
  {
    name: '.otel-runrc.js',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.js': `module.exports = { serviceName: '${s}' };` }),
  },
  {
    name: '.otel-runrc.cjs',
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.cjs': `module.exports = { serviceName: '${s}' };` }),
  },
  {
    name: '.otel-runrc.mjs',
    esm: true,
    files: (s) => ({ 'package.json': PKG, '.otel-runrc.mjs': `export default { serviceName: '${s}' };` }),
  },
  {
    name: 'otel-run.config.js (ES module package)',
    esm: true,
    files: (s) => ({
      'package.json': JSON.stringify({ name: 'x', type: 'module' }),
      'otel-run.config.js': `export default { serviceName: '${s}' };`,
    }),
  },
  {
    name: 'otel-run.config.cjs',
    files: (s) => ({
      'package.json': PKG,
      'otel-run.config.cjs': `module.exports = { serviceName: '${s}' };`,
    }),
  },
  {
    name: 'otel-run.config.mjs',
    esm: true,
    files: (s) => ({ 'package.json': PKG, 'otel-run.config.mjs': `export default { serviceName: '${s}' };` }),
  },
];

describe('each file format is found and read, by the CLI and by the preload alike (one search, one loader)', () => {
  for (const [i, format] of FORMATS.entries()) {
    test(format.name, async () => {
      const service = `format-${i}`;
      const files = format.files(service);
      const dir = project(files);
      const expected = path.join(dir, Object.keys(files).at(-1)!);
      const cli = await loadConfig(dir);
      assert.equal(cli?.file, expected);
      assert.equal((cli?.config as { serviceName?: string } | undefined)?.serviceName, service);

      const preload = readConfig({}, dir);
      if (format.esm && !REQUIRE_ESM) {
        assert.match(preload.problems[0]?.text ?? '', /cannot be loaded synchronously/);
        return;
      }
      assert.deepEqual(preload.problems, []);
      assert.equal(preload.file, expected);
      assert.equal(preload.env.OTEL_SERVICE_NAME, service);
    });
  }

  test('searched from the working directory up to the project root, and no further', async () => {
    const root = project({
      '.otel-runrc.json': '{"serviceName": "outside"}',
      'app/package.json': PKG,
      'app/src/deep/.keep': '',
      'app/sub/.otel-runrc.yaml': 'serviceName: nested',
    });
    const deep = path.join(root, 'app', 'src', 'deep');
    for (const dir of [deep, path.join(root, 'app')]) {
      assert.equal(await loadConfig(dir), undefined, `nothing above ${dir}'s project root is read`);
      assert.equal(findConfigFile(dir), undefined);
      assert.equal(readConfig({}, dir).file, undefined);
    }
    const sub = path.join(root, 'app', 'sub');
    assert.equal((await loadConfig(sub))?.file, path.join(sub, '.otel-runrc.yaml'));
    assert.equal(readConfig({}, sub).file, path.join(sub, '.otel-runrc.yaml'));

    fs.writeFileSync(
      path.join(root, 'app', 'otel-run.config.cjs'),
      'module.exports = { serviceName: "app" };',
    );
    assert.equal((await loadConfig(deep))?.file, path.join(root, 'app', 'otel-run.config.cjs'));
    assert.equal(readConfig({}, deep).env.OTEL_SERVICE_NAME, 'app');
  });

  test('the places in their one order, empty files skipped, --config names one', async () => {
    const dir = project({
      'package.json': JSON.stringify({ name: 'x', 'otel-run': { serviceName: 'pkg' } }),
      '.otel-runrc.json': '',
      '.otel-runrc.yaml': 'serviceName: yaml',
      'other.yaml': 'serviceName: other',
    });
    assert.equal((await loadConfig(dir))?.file, path.join(dir, 'package.json'));
    assert.equal(readConfig({}, dir).env.OTEL_SERVICE_NAME, 'pkg');
    fs.writeFileSync(path.join(dir, 'package.json'), PKG);
    assert.equal((await loadConfig(dir))?.file, path.join(dir, '.otel-runrc.yaml'));
    assert.equal(readConfig({}, dir).env.OTEL_SERVICE_NAME, 'yaml');
    assert.equal((await loadConfig(dir, 'other.yaml'))?.file, path.join(dir, 'other.yaml'));
    assert.equal(readConfig({ OTEL_RUN_CONFIG: 'other.yaml' }, dir).env.OTEL_SERVICE_NAME, 'other');
  });

  test('values: lists as arrays or comma strings, key=value objects or strings, numbers as numbers', () => {
    const checked = checkConfig({
      tracesExporter: ['otlp', 'console'],
      propagators: 'tracecontext, b3',
      enable: 'http,express',
      disable: ['fs'],
      resourceAttributes: { 'deployment.environment': 'prod', b: 'x=y,z', n: 3 },
      exporterOtlpHeaders: 'api-key=secret',
      bspScheduleDelay: 50,
      tracesSamplerArg: 0.25,
      strict: false,
      instrumentations: {
        http: { ignoreIncomingPaths: '/health' },
        express: { ignoreLayersType: ['router'] },
      },
    });
    assert.deepEqual(checked.problems, []);
    assert.deepEqual(checked.env, {
      OTEL_TRACES_EXPORTER: 'otlp,console',
      OTEL_PROPAGATORS: 'tracecontext, b3',
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'fs',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,b=x%3Dy%2Cz,n=3',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=secret',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_RUN_STRICT: 'false',
    });
    assert.deepEqual(checked.instrumentations.express, { ignoreLayersType: ['router'] });
  });

  test("a value means what the same text means in its variable: the row's own parser decides", () => {
    const checked = checkConfig({
      $schema: './node_modules/otel-run/schema/otel-run.schema.json',
      tracesExporter: 'OTLP, console',
      logLevel: 'DEBUG',
      resourceAttributes: 'team',
      exporterOtlpTimeout: 0,
      propagators: ['b3', 'zipkin'],
      enable: ['http,express'],
    });
    assert.deepEqual(checked.env, { OTEL_TRACES_EXPORTER: 'OTLP, console', OTEL_LOG_LEVEL: 'DEBUG' });
    assert.deepEqual(
      checked.problems.map((p) => p.message),
      [
        'resourceAttributes must be an object of key: value (or one "key=value,key2=value2" string), not "team"',
        'exporterOtlpTimeout must be a whole number from 1 to 2147483647, not 0',
        'propagators must be a list of tracecontext, baggage, b3, b3multi, jaeger, none (an array, or one comma-separated string), not ["b3","zipkin"]',
        'enable must be a list of names (an array, or one comma-separated string), not ["http,express"]',
      ],
    );
  });

  test('the README example is complete and valid', () => {
    const file = path.join(REPO_ROOT, 'examples', 'config', '.otel-runrc.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const preload = readConfig({}, path.dirname(file));
    assert.deepEqual(preload.problems, []);
    assert.equal(preload.env.OTEL_SERVICE_NAME, 'checkout-api');
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    assert.ok(
      readme.includes(text.replace(/^# yaml-language-server.*\n/, '')),
      'README shows examples/config',
    );
  });
});

describe('generated files: written by `npm run gen` only, checked by the build and the tests', () => {
  const GEN = path.join(REPO_ROOT, 'scripts', 'gen.js');
  const GENERATED = ['schema/otel-run.schema.json', 'docs/configuration.md'];
  const check = (root?: string) =>
    spawnSync(process.execPath, [GEN, '--check', ...(root ? ['--root', root] : [])], { encoding: 'utf8' });

  test('the JSON Schema and the settings reference in docs/configuration.md match the settings table', () => {
    const r = check();
    assert.equal(r.status, 0, r.stderr);
  });

  for (const [file, edit] of [
    ['schema/otel-run.schema.json', (t: string) => t.replace('"serviceName": {', '"serviceNam": {')],
    ['docs/configuration.md', (t: string) => t.replace('| `OTEL_SERVICE_NAME` |', '| `OTEL_SERVICENAME` |')],
  ] as const) {
    test(`a hand-edited ${file} fails the check, which writes nothing`, () => {
      const copy = project(
        Object.fromEntries(GENERATED.map((f) => [f, fs.readFileSync(path.join(REPO_ROOT, f), 'utf8')])),
      );
      assert.equal(check(copy).status, 0, 'an unedited copy passes');
      const at = path.join(copy, file);
      const edited = edit(fs.readFileSync(at, 'utf8'));
      assert.notEqual(edited, fs.readFileSync(at, 'utf8'), 'the edit changed the file');
      fs.writeFileSync(at, edited);
      const r = check(copy);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^otel-run: generated file out of date: ${file} \\(`));
      assert.match(r.stderr, /\n {2}hint: .*run npm run gen/);
      assert.equal(fs.readFileSync(at, 'utf8'), edited, 'the check left the file as it was');
    });
  }

  test('only `npm run gen` writes them: every other script that runs the generator only checks', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const runs = Object.entries(scripts).filter(([, command]) => command.includes('scripts/gen.js'));
    assert.deepEqual(
      runs.filter(([name, command]) => name !== 'gen' && !command.includes('scripts/gen.js --check')),
      [],
    );
    assert.ok(
      runs.some(([name]) => name === 'build'),
      'the build checks them',
    );
  });
});

describe('unknown keys: the closest known key is suggested', () => {
  for (const [given, expected] of [
    ['serviceNme', 'serviceName'],
    ['service-name', 'serviceName'],
    ['OTEL_SERVICE_NAME', 'serviceName'],
    ['enabledInstrumentations', 'enable'],
    ['traceExporter', 'tracesExporter'],
    ['instrumentation', 'instrumentations'],
  ] as const) {
    test(`${given} → ${expected}`, () => assert.equal(suggestKey(given), expected));
  }
  test('nothing close: no suggestion', () => assert.equal(suggestKey('frobnicate'), undefined));
});

describe('declarative per-instrumentor options', () => {
  test('patterns: * matches anything, the rest is literal, whole match', () => {
    const m = compileMatcher(['/health', '/ready*', '*/v1/traces']);
    for (const yes of ['/health', '/ready', '/ready/db', 'http://c:4318/v1/traces']) assert.ok(m(yes), yes);
    for (const no of ['/healthz', '/users', '/api/ready', 'x.health']) assert.ok(!m(no), no);
  });

  test('http.request options as a URL, default ports left out', () => {
    assert.equal(
      requestOptionsUrl({ protocol: 'https:', hostname: 'api.example.com', port: 443, path: '/a?b=1' }),
      'https://api.example.com/a',
    );
    assert.equal(
      requestOptionsUrl({ hostname: '127.0.0.1', port: 8080, path: '/x' }),
      'http://127.0.0.1:8080/x',
    );
    assert.equal(requestOptionsUrl({ host: 'localhost' }), 'http://localhost/');
  });

  test('http: paths and URLs become hooks, combined with a hook given as a function', () => {
    const config = toInstrumentationConfig('http', {
      ignoreIncomingPaths: ['/health', '/ready*'],
      ignoreOutgoingUrls: 'https://api.example.com/*, /internal/*',
      ignoreIncomingRequestHook: (req: { method?: string }) => req.method === 'OPTIONS',
      requireParentforOutgoingSpans: true,
    });
    assert.deepEqual(Object.keys(config).sort(), [
      'ignoreIncomingRequestHook',
      'ignoreOutgoingRequestHook',
      'requireParentforOutgoingSpans',
    ]);
    const incoming = config.ignoreIncomingRequestHook as (r: object) => boolean;
    assert.equal(incoming({ url: '/health?probe=1' }), true);
    assert.equal(incoming({ url: '/ready/db' }), true);
    assert.equal(incoming({ url: '/users', method: 'OPTIONS' }), true);
    assert.equal(incoming({ url: '/users', method: 'GET' }), false);
    const outgoing = config.ignoreOutgoingRequestHook as (o: object) => boolean;
    assert.equal(outgoing({ protocol: 'https:', hostname: 'api.example.com', path: '/v2/x' }), true);
    assert.equal(outgoing({ hostname: 'db', port: 80, path: '/internal/stats' }), true);
    assert.equal(outgoing({ hostname: 'db', path: '/public' }), false);
  });

  test('undici: ignoreOutgoingUrls becomes ignoreRequestHook; other instrumentors get their options as given', () => {
    const undici = toInstrumentationConfig('undici', { ignoreOutgoingUrls: ['http://127.0.0.1:*/skip'] });
    const hook = undici.ignoreRequestHook as (r: object) => boolean;
    assert.equal(hook({ origin: 'http://127.0.0.1:3000', path: '/skip?x' }), true);
    assert.equal(hook({ origin: 'http://127.0.0.1:3000', path: '/keep' }), false);
    const express = { ignoreLayersType: ['middleware'], ignoreLayers: ['/health'] };
    assert.deepEqual(toInstrumentationConfig('express', express), express);
  });
});

// ---------------------------------------------------------------------------------------------------------
// End to end: the built CLI and preload as child processes.

const APP_RAN = ['-e', 'console.log("app ran")'];

function otelRun(cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], { cwd, env: hermeticEnv(extra) });
}

function preloadAlone(cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, args, {
    cwd,
    env: hermeticEnv({ NODE_OPTIONS: `--require "${REGISTER}"`, ...extra }),
  });
}

/** Prints the service name the preload resolved in this process (its state is on a global symbol). */
const PRINT_SERVICE = [
  '-e',
  'const s = globalThis[Symbol.for("otel-run.state")]; console.log(s ? String(s.settings.serviceName) : "(no state)")',
];

/** Nothing exported, nothing instrumented: only what otel-run itself says. */
const QUIET_RUN = {
  OTEL_TRACES_EXPORTER: 'none',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none',
};

/** Server spans by path, client spans by path: what the http instrumentation traced. */
function traced(spans: ReceivedSpan[]): { server: string[]; client: string[] } {
  const pathOf = (s: ReceivedSpan) => {
    const a = s.attributes;
    const raw = a['url.path'] ?? a['http.target'] ?? a['url.full'] ?? a['http.url'];
    const text = String(raw ?? '');
    return text.startsWith('/') ? text.split('?')[0]! : new URL(text).pathname;
  };
  return {
    server: spans
      .filter((s) => s.kind === 2)
      .map(pathOf)
      .sort(),
    client: spans
      .filter((s) => s.kind === 3)
      .map(pathOf)
      .sort(),
  };
}

/** Runs the config-app fixture (copied to `dir`) traced, against a receiver of its own. */
async function tracedApp(
  dir: string,
  how: 'cli' | 'preload',
  options: { args?: string[]; env?: NodeJS.ProcessEnv; paths: string[]; cwd?: string },
): Promise<{ result: RunResult; spans: ReceivedSpan[] }> {
  const receiver = await startReceiver();
  try {
    const env: NodeJS.ProcessEnv = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      REQUEST_PATHS: options.paths.join(','),
      ...options.env,
    };
    const cwd = options.cwd ?? dir;
    const result =
      how === 'cli'
        ? await otelRun(cwd, [...(options.args ?? []), 'node', 'app.js'], env)
        : await preloadAlone(cwd, ['app.js'], env);
    assert.equal(result.code, 0, describeResult(result));
    const plain = await run(process.execPath, ['app.js'], {
      cwd,
      env: hermeticEnv({ REQUEST_PATHS: env.REQUEST_PATHS }),
    });
    assert.equal(result.stdout, plain.stdout, 'the app prints the same as untraced');
    const spans = await receiver.waitForSpans((s) => s.some((x) => x.kind === 2));
    return { result, spans: [...spans] };
  } finally {
    await receiver.close();
  }
}

describe('one precedence: flag > OTEL_* variable > config file > default', { timeout: 120_000 }, () => {
  test('service name and resource attributes seen at the receiver', async () => {
    const app = await copyFixture('config-app');
    const bare = await copyFixture('config-app');
    fs.writeFileSync(
      path.join(app, '.otel-runrc.json'),
      JSON.stringify({
        serviceName: 'from-file',
        resourceAttributes: { team: 'file', tier: 'file', zone: 'file' },
        enable: ['http'],
      }),
    );
    const envVars = { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' };
    const runs = [
      { dir: bare, env: envVars, expect: 'config-app', attrs: {} },
      { dir: app, env: envVars, expect: 'from-file', attrs: { team: 'file', tier: 'file', zone: 'file' } },
      {
        dir: app,
        env: { ...envVars, OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'tier=env,zone=env' },
        expect: 'from-env',
        attrs: { team: 'file', tier: 'env', zone: 'env' },
      },
      {
        dir: app,
        args: ['--service-name', 'from-flag', '--resource-attributes', 'zone=flag'],
        env: { ...envVars, OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'tier=env,zone=env' },
        expect: 'from-flag',
        attrs: { team: 'file', tier: 'env', zone: 'flag' },
      },
    ];
    for (const r of runs) {
      const { spans } = await tracedApp(r.dir, 'cli', { args: r.args, env: r.env, paths: ['/users'] });
      const resource = spans[0]!.resource;
      assert.equal(resource['service.name'], r.expect, JSON.stringify(resource));
      for (const [k, v] of Object.entries(r.attrs)) assert.equal(resource[k], v, k);
    }
  });

  test('children get the resolved settings and never re-read a file, even from another folder', async () => {
    const a = project({ 'package.json': PKG, '.otel-runrc.yaml': 'serviceName: from-a\n' });
    const b = project({ 'package.json': PKG, '.otel-runrc.yaml': 'serviceName: from-b\n' });
    const child = `require("node:child_process").spawnSync(process.execPath, ${JSON.stringify(PRINT_SERVICE)}, { cwd: ${JSON.stringify(b)}, stdio: "inherit" })`;
    const r = await otelRun(a, ['--traces-exporter', 'none', '--', 'node', '-e', child], {
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none',
    });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'from-a\n', describeResult(r));
    const alone = await preloadAlone(b, PRINT_SERVICE, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none' });
    assert.equal(alone.stdout, 'from-b\n', describeResult(alone));
  });
});

describe('per-instrumentor options in effect (real instrumentation-http)', { timeout: 120_000 }, () => {
  const PATHS = ['/users', '/health', '/ready/db', '/internal/stats?x=1'];

  test('declarative ignoreIncomingPaths and ignoreOutgoingUrls from a JSON file', async () => {
    const app = await copyFixture('config-app');
    fs.writeFileSync(
      path.join(app, '.otel-runrc.json'),
      JSON.stringify({
        instrumentations: {
          http: { ignoreIncomingPaths: ['/health', '/ready*'], ignoreOutgoingUrls: ['*/internal/*'] },
        },
      }),
    );
    const { spans } = await tracedApp(app, 'cli', {
      env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' },
      paths: PATHS,
    });
    assert.deepEqual(traced(spans), {
      server: ['/internal/stats', '/users'],
      client: ['/health', '/ready/db', '/users'],
    });
  });

  test('functions from otel-run.config.js reach the instrumentor (the preload loads the file for them)', async () => {
    const app = await copyFixture('config-app');
    fs.writeFileSync(
      path.join(app, 'otel-run.config.js'),
      `module.exports = {
        instrumentations: {
          http: {
            ignoreIncomingPaths: ['/health'],
            ignoreOutgoingRequestHook: (options) => options.path === '/users',
          },
        },
      };\n`,
    );
    const { spans } = await tracedApp(app, 'cli', {
      env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http' },
      paths: ['/users', '/health'],
    });
    assert.deepEqual(traced(spans), { server: ['/users'], client: ['/health'] });
  });
});

describe('the preload used alone (container layout: otel-run installed elsewhere)', {
  timeout: 120_000,
}, () => {
  test('reads the file next to the app; the environment still wins over it', async () => {
    const root = await copyFixture('config-container');
    const app = path.join(root, 'app');
    assert.ok(!REGISTER.startsWith(root));
    const paths = ['/users', '/health', '/ready/db'];
    const fromFile = await tracedApp(app, 'preload', { paths });
    assert.equal(fromFile.result.stderr, '', describeResult(fromFile.result));
    assert.equal(fromFile.spans[0]!.resource['service.name'], 'container-from-file');
    assert.equal(fromFile.spans[0]!.resource['deployment.environment'], 'test');
    assert.deepEqual(traced(fromFile.spans), { server: ['/users'], client: paths.slice().sort() });

    const fromEnv = await tracedApp(app, 'preload', {
      paths: ['/users'],
      env: { OTEL_SERVICE_NAME: 'container-from-env' },
    });
    assert.equal(fromEnv.spans[0]!.resource['service.name'], 'container-from-env');
    assert.equal(fromEnv.spans[0]!.resource['deployment.environment'], 'test');
  });

  test('a bad key or value: one warning each, the rest of the file applies, the app runs', async () => {
    const dir = project({
      'package.json': PKG,
      '.otel-runrc.json':
        '{\n  "serviceName": "still-applied",\n  "serviceNme": "x",\n  "bspScheduleDelay": "soon"\n}\n',
    });
    const file = path.join(dir, '.otel-runrc.json');
    const r = await preloadAlone(dir, PRINT_SERVICE, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none' });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'still-applied\n');
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `otel-run: config file ${file}:3: unknown key "serviceNme" (did you mean "serviceName"?) — the key is ignored`,
      `otel-run: config file ${file}:4: bspScheduleDelay must be a whole number from 0 to 2147483647, not "soon" (see OTEL_BSP_SCHEDULE_DELAY in otel-run --help) — the key is ignored (OTEL_BSP_SCHEDULE_DELAY or the default applies)`,
    ]);
  });

  test('a syntax error: one warning, the file is ignored, the app runs', async () => {
    const dir = project({ 'package.json': PKG, '.otel-runrc.yaml': 'serviceName: x\n  bad: [\n' });
    const r = await preloadAlone(dir, PRINT_SERVICE, { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'none' });
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'undefined\n', 'no service name: the file was ignored');
    assert.match(
      r.stderr,
      /^otel-run: config file .*\.otel-runrc\.yaml:2: syntax error: .* \(fix the YAML.*\) — the file is ignored\n$/,
    );
  });

  test('strict mode (variable or file) makes a configuration problem fatal before the app runs', async () => {
    const dir = project({ 'package.json': PKG, '.otel-runrc.json': '{ "serviceNme": "x" }' });
    const viaEnv = await preloadAlone(dir, APP_RAN, { OTEL_RUN_STRICT: 'true' });
    assert.notEqual(viaEnv.code, 0, describeResult(viaEnv));
    assert.equal(viaEnv.stdout, '');
    assert.match(viaEnv.stderr, /otel-run: config file .*:1: unknown key "serviceNme" .*strict mode/);

    const inFile = project({ 'package.json': PKG, '.otel-runrc.yaml': 'strict: true\nserviceNme: x\n' });
    const viaFile = await preloadAlone(inFile, APP_RAN);
    assert.notEqual(viaFile.code, 0, describeResult(viaFile));
    assert.equal(viaFile.stdout, '');
    assert.match(viaFile.stderr, /unknown key "serviceNme" .*strict mode/);
  });
});

describe('the CLI stops before the app on a bad file: message, file:line, hint, exit 2', {
  timeout: 120_000,
}, () => {
  const cases: Array<{
    name: string;
    file: string;
    text: string;
    message: RegExp;
    hint: RegExp;
    args?: string[];
  }> = [
    {
      name: 'JSON syntax error',
      file: '.otel-runrc.json',
      text: '{\n  "serviceName": "x",\n}\n',
      message: /syntax error: .*\(.*\.otel-runrc\.json:3\)/,
      hint: /fix the JSON/,
    },
    {
      name: 'YAML syntax error',
      file: '.otel-runrc.yml',
      text: 'serviceName: x\ntracesExporter: [otlp\nlogLevel: warn\n',
      message: /syntax error: .*\(.*\.otel-runrc\.yml:\d\)/,
      hint: /fix the YAML/,
    },
    {
      name: 'JavaScript syntax error (CommonJS)',
      file: 'otel-run.config.cjs',
      text: 'module.exports = {\n  serviceName: "x",\n  oops: = 1,\n};\n',
      message: /syntax error: Unexpected token '=' \(.*otel-run\.config\.cjs:3\)/,
      hint: /fix the JavaScript syntax/,
    },
    {
      name: 'JavaScript syntax error (ES module)',
      file: '.otel-runrc.mjs',
      text: 'export default {\n  serviceName: "x",\n  oops: = 1,\n};\n',
      message: /syntax error: Unexpected token '=' \(.*\.otel-runrc\.mjs:3\)/,
      hint: /fix the JavaScript syntax/,
    },
    {
      name: 'a config that throws',
      file: '.otel-runrc.cjs',
      text: '\nthrow new Error("no config for you");\n',
      message: /failed to load: no config for you \(.*\.otel-runrc\.cjs:2\)/,
      hint: /threw while loading/,
    },
    {
      name: 'unknown key, with the closest known key',
      file: '.otel-runrc.yaml',
      text: 'serviceName: x\ntraceExporter: console\n',
      message: /unknown key "traceExporter" \(.*\.otel-runrc\.yaml:2\)/,
      hint: /did you mean "tracesExporter"\?/,
    },
    {
      name: 'unknown key in package.json',
      file: 'package.json',
      text: '{\n  "name": "x",\n  "otel-run": {\n    "servceName": "x"\n  }\n}\n',
      message: /unknown key "servceName" \(.*package\.json:4\)/,
      hint: /did you mean "serviceName"\?/,
    },
    {
      name: 'wrong type',
      file: '.otel-runrc.json',
      text: '{\n  "serviceName": "x",\n  "bspScheduleDelay": "50"\n}\n',
      message: /bspScheduleDelay must be a whole number from 0 to \d+, not "50" \(.*\.otel-runrc\.json:3\)/,
      hint: /OTEL_BSP_SCHEDULE_DELAY/,
    },
    {
      name: 'a value outside the allowed ones',
      file: '.otel-runrc.yaml',
      text: 'tracesSampler: sometimes\n',
      message: /tracesSampler must be one of always_on, .*, not "sometimes" \(.*\.otel-runrc\.yaml:1\)/,
      hint: /allowed values: always_on, always_off/,
    },
    {
      name: 'a bad per-instrumentor option',
      file: '.otel-runrc.yaml',
      text: 'instrumentations:\n  http:\n    ignoreIncomingPaths: 42\n',
      message: /instrumentations\.http\.ignoreIncomingPaths must be a list of patterns .*not 42 \(.*:3\)/,
      hint: /ignoreIncomingPaths: \["\/health"/,
    },
    {
      name: 'not an object of settings',
      file: '.otel-runrc.yaml',
      text: '- serviceName: x\n',
      message: /the file must hold an object of settings, not an array \(.*\.otel-runrc\.yaml:1\)/,
      hint: /serviceName/,
    },
    {
      name: '$import (cosmiconfig-based tools merge the files it names; otel-run reads one)',
      file: '.otel-runrc.yaml',
      text: 'serviceName: x\n$import: ./base.yaml\n',
      message: /"\$import" is not supported \(.*\.otel-runrc\.yaml:2\)/,
      hint: /a single config file/,
    },
    {
      name: '--config naming a missing file',
      file: 'unused.json',
      text: '{}',
      args: ['--config', 'missing.yaml'],
      message: /config file not found \(.*missing\.yaml\)/,
      hint: /without --config, otel-run looks for/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const files: Record<string, string> = { [c.file]: c.text };
      if (c.file !== 'package.json') files['package.json'] = PKG;
      const dir = project(files);
      const r = await otelRun(dir, [...(c.args ?? []), '--', 'node', ...APP_RAN]);
      assert.equal(r.code, 2, describeResult(r));
      assert.equal(r.stdout, '', 'the app never started');
      const [first, second] = r.stderr.split('\n');
      assert.match(first ?? '', /^otel-run: /, describeResult(r));
      assert.match(first ?? '', c.message, describeResult(r));
      assert.match(second ?? '', /^ {2}hint: /, describeResult(r));
      assert.match(second ?? '', c.hint, describeResult(r));
    });
  }

  test('every problem of a file is listed, in file order', async () => {
    const dir = project({
      'package.json': PKG,
      '.otel-runrc.json': '{\n  "serviceNme": "x",\n  "logLevel": "loud",\n  "strict": "yes"\n}\n',
    });
    const r = await otelRun(dir, ['--', 'node', ...APP_RAN]);
    assert.equal(r.code, 2, describeResult(r));
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('otel-run: '));
    assert.equal(problems.length, 3, describeResult(r));
    assert.deepEqual(
      problems.map((l) => /:(\d+)\)$/.exec(l)?.[1]),
      ['2', '3', '4'],
    );
  });
});

describe('one resolution for run, list, env and doctor', { timeout: 120_000 }, () => {
  test('--verbose: an explicit OTEL_LOG_LEVEL wins over it, and it wins over the file, in run, env and doctor alike', async () => {
    const dir = project({ 'package.json': PKG, '.otel-runrc.yaml': 'logLevel: error\n' });
    const printLevel = ['-e', 'console.log(process.env.OTEL_LOG_LEVEL)'];
    for (const [env, level, source] of [
      [{ OTEL_LOG_LEVEL: 'debug' }, 'debug', 'env'],
      [{}, 'info', 'flag'],
    ] as const) {
      const extra = { ...QUIET_RUN, ...env };
      const run = await otelRun(dir, ['--verbose', '--', 'node', ...printLevel], extra);
      assert.equal(run.code, 0, describeResult(run));
      assert.equal(run.stdout, `${level}\n`, `otel-run --verbose node: ${describeResult(run)}`);

      const printed = await otelRun(dir, ['env', '--verbose'], extra);
      assert.equal(printed.code, 0, describeResult(printed));
      assert.match(
        printed.stdout,
        new RegExp(`^export OTEL_LOG_LEVEL='${level}'$`, 'm'),
        'otel-run env --verbose',
      );

      const doctor = await otelRun(dir, ['doctor', '--verbose', '--json', '--timeout', '200'], extra);
      const report = JSON.parse(doctor.stdout) as { sections: Array<{ items: Array<{ text: string }> }> };
      const row = report.sections.flatMap((s) => s.items).find((i) => i.text.startsWith('OTEL_LOG_LEVEL '));
      assert.match(row?.text ?? '', new RegExp(`^OTEL_LOG_LEVEL +${level} +${source}$`), doctor.stdout);
    }
  });

  test('an empty variable counts as unset: the file applies', async () => {
    const dir = project({ 'package.json': PKG, '.otel-runrc.yaml': 'serviceName: from-file\n' });
    const resolved = await resolveConfig({ flags: {}, env: { OTEL_SERVICE_NAME: '' }, cwd: dir });
    assert.equal(resolved.settings.serviceName, 'from-file');
    assert.equal(resolved.origins.OTEL_SERVICE_NAME?.source, 'file');
  });

  for (const [name, files] of [
    ['.otel-runrc.yaml', { 'package.json': PKG, '.otel-runrc.yaml': 'serviceName: once\n' }],
    ['package.json', { 'package.json': JSON.stringify({ name: 'x', 'otel-run': { serviceName: 'once' } }) }],
  ] as const) {
    test(`the CLI reads the config file once (${name})`, async () => {
      const dir = project(files);
      const file = path.join(dir, name);
      // The module objects themselves (an `import * as` namespace cannot be patched).
      const realFs = require('node:fs') as typeof fs;
      const readFileSync = realFs.readFileSync;
      const readFile = realFs.promises.readFile;
      let reads = 0;
      const count = (p: unknown) => {
        if (String(p) === file) reads++;
      };
      realFs.readFileSync = ((p: fs.PathOrFileDescriptor, ...rest: []) => {
        count(p);
        return readFileSync(p, ...rest);
      }) as typeof fs.readFileSync;
      realFs.promises.readFile = ((p: fs.PathLike, ...rest: []) => {
        count(p);
        return readFile(p, ...rest);
      }) as typeof fs.promises.readFile;
      try {
        const resolved = await resolveConfig({ flags: {}, env: {}, cwd: dir });
        assert.equal(resolved.settings.serviceName, 'once');
      } finally {
        realFs.readFileSync = readFileSync;
        realFs.promises.readFile = readFile;
      }
      assert.equal(reads, 1);
    });
  }
});

describe('a file named like a config file that otel-run does not read is reported, not ignored in silence', {
  timeout: 120_000,
}, () => {
  test('near misses and the name each should have; real config files and look-alikes are left alone', () => {
    const dir = project({
      'package.json': PKG,
      'otel-run.config.json': '{}',
      'otel-run.config.yml': 'a: 1',
      '.otel-runrc.ts': 'export default {}',
      'otel-run.json': '{}',
      'sub/otel-run.config.yaml': 'a: 1',
      '.otel-runrc.json': '{}',
      'otel-run.js': '// a script of the app',
      'otel-run.config.json.bak': '{}',
    });
    fs.mkdirSync(path.join(dir, 'otel-run.config.ts'));
    const found = Object.fromEntries(
      searchConfig(path.join(dir, 'sub')).nearMisses.map((m) => [path.relative(dir, m.file), m.rename]),
    );
    assert.deepEqual(found, {
      'sub/otel-run.config.yaml': '.otel-runrc.yaml',
      'otel-run.config.json': '.otel-runrc.json',
      'otel-run.config.yml': '.otel-runrc.yml',
      'otel-run.json': '.otel-runrc.json',
      '.otel-runrc.ts': 'otel-run.config.mjs (TypeScript is not read)',
    });
  });

  test('otel-run.config.json: run, env and doctor say so and go on; the preload alone warns, even in strict mode', async () => {
    const dir = project({ 'package.json': PKG, 'otel-run.config.json': '{ "serviceName": "misnamed" }' });
    const file = path.join(dir, 'otel-run.config.json');
    const cliSays = `otel-run: not a config file name otel-run reads, so it is ignored (${file})\n  hint: rename it to .otel-runrc.json\n`;

    const r = await otelRun(dir, ['--', 'node', ...PRINT_SERVICE], QUIET_RUN);
    assert.equal(r.code, 0, describeResult(r));
    assert.equal(r.stdout, 'undefined\n', describeResult(r));
    assert.equal(r.stderr, cliSays);

    const printed = await otelRun(dir, ['env'], QUIET_RUN);
    assert.equal(printed.code, 0, describeResult(printed));
    assert.equal(printed.stderr, cliSays);
    assert.match(printed.stdout, /^export NODE_OPTIONS=/m);

    const doctor = await otelRun(dir, ['doctor', '--json', '--timeout', '200'], QUIET_RUN);
    const report = JSON.parse(doctor.stdout) as {
      sections: Array<{ items: Array<{ level: string; text: string; hint?: string }> }>;
    };
    const item = report.sections.flatMap((s) => s.items).find((i) => i.text.includes(file));
    assert.deepEqual(item, {
      level: 'warn',
      text: `not a config file name otel-run reads, so it is ignored (${file})`,
      hint: 'rename it to .otel-runrc.json',
    });

    const alone = await preloadAlone(dir, PRINT_SERVICE, { ...QUIET_RUN, OTEL_RUN_STRICT: 'true' });
    assert.equal(alone.code, 0, describeResult(alone));
    assert.equal(alone.stdout, 'undefined\n');
    assert.equal(
      alone.stderr,
      `otel-run: config file ${file}: not a name otel-run reads (rename it to .otel-runrc.json) — it is ignored\n`,
    );

    fs.renameSync(file, path.join(dir, '.otel-runrc.json'));
    const renamed = await otelRun(dir, ['--', 'node', ...PRINT_SERVICE], QUIET_RUN);
    assert.equal(renamed.stdout, 'misnamed\n', describeResult(renamed));
    assert.equal(renamed.stderr, '');
  });
});
