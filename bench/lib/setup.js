// Builds the throwaway folders the benchmark runs in, under the OS temp folder (never inside the repo, whose
// own node_modules holds every devDependency instrumentation and would be discovered by otel-run):
// - the app: hello.js, server.js and a node_modules of symlinks into the repo's node_modules (express and the
//   http/express instrumentations, and the reference), so both tools see the same installed instrumentations;
// - a synthetic node_modules of 2,000 packages (some scoped, some symlinked) for the discovery figures.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');

const APP_PACKAGES = [
  'express',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/instrumentation-express',
  '@opentelemetry/auto-instrumentations-node',
  'dd-trace',
];

function makeRoot() {
  return fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'otel-run-bench-'));
}

function link(target, at) {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.symlinkSync(target, at, process.platform === 'win32' ? 'junction' : 'dir');
}

function createApp(root) {
  const app = path.join(root, 'app');
  fs.mkdirSync(app, { recursive: true });
  for (const file of ['hello.js', 'server.js']) {
    fs.copyFileSync(path.join(__dirname, '..', 'apps', file), path.join(app, file));
  }
  fs.writeFileSync(
    path.join(app, 'package.json'),
    `${JSON.stringify({ name: 'bench-app', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  for (const name of APP_PACKAGES) {
    const target = path.join(REPO, 'node_modules', name);
    if (!fs.existsSync(target)) {
      throw new Error(`${name} is not installed in ${REPO}/node_modules (run npm install first)`);
    }
    link(target, path.join(app, 'node_modules', name));
  }
  return app;
}

function fakePackageJson(name, i, extra = {}) {
  // About the size of a real package.json (description, keywords, dependencies, scripts).
  const deps = {};
  for (let d = 1; d <= 6; d++) deps[`dep-${(i * 7 + d) % 1700}`] = `^${d}.${i % 10}.0`;
  return `${JSON.stringify(
    {
      name,
      version: `${1 + (i % 5)}.${i % 13}.${i % 7}`,
      description: `Synthetic package number ${i} for the otel-run discovery benchmark`,
      keywords: ['benchmark', 'synthetic', 'otel-run', `k${i % 17}`],
      license: 'MIT',
      main: 'index.js',
      repository: { type: 'git', url: `https://example.invalid/${name}.git` },
      scripts: { test: 'node test.js', build: 'tsc -p .' },
      dependencies: deps,
      engines: { node: '>=18' },
      ...extra,
    },
    null,
    2,
  )}\n`;
}

function writePackage(dir, name, i, extra) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), fakePackageJson(name, i, extra));
  fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = {};\n');
}

/**
 * 2,000 packages: 1,700 plain, 200 in 20 scopes, 100 symlinked from a store folder (as pnpm lays them out),
 * among them targets (express, pg) and instrumentors (catalog packages and one with an otelInstrumentor field)
 * so that discovery and planning have real work to do.
 */
function createSynthetic(root, total = 2000) {
  const app = path.join(root, 'synthetic');
  const nm = path.join(app, 'node_modules');
  const store = path.join(app, 'store');
  fs.mkdirSync(nm, { recursive: true });
  fs.writeFileSync(path.join(app, 'hello.js'), "'use strict';\nconsole.log('hello');\n");
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"synthetic-app","version":"1.0.0"}\n');
  const special = [
    ['express', { version: '4.21.2' }],
    ['pg', { version: '8.13.1' }],
    ['@opentelemetry/instrumentation-express', { version: '0.71.1' }],
    ['@opentelemetry/instrumentation-pg', { version: '0.60.0' }],
    [
      'acme-otel-instrumentor',
      { version: '1.0.0', otelInstrumentor: { name: 'acme', instruments: { express: '^4.0.0' } } },
    ],
  ];
  let count = 0;
  for (const [name, extra] of special) writePackage(path.join(nm, name), name, count++, extra);
  const scoped = Math.round(total * 0.1);
  const linked = Math.round(total * 0.05);
  for (let i = 0; count < special.length + scoped; i++) {
    const name = `@scope-${i % 20}/pkg-${i}`;
    writePackage(path.join(nm, name), name, count++);
  }
  for (let i = 0; i < linked; i++) {
    const name = `linked-${i}`;
    writePackage(path.join(store, name), name, count++);
    link(path.join(store, name), path.join(nm, name));
  }
  for (let i = 0; count < total; i++) writePackage(path.join(nm, `pkg-${i}`), `pkg-${i}`, count++);
  return { app, nodeModules: nm, packages: count };
}

module.exports = { REPO, createApp, createSynthetic, makeRoot, writePackage };
