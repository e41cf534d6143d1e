// What the config file costs the preload: `node bench/config-search.js` after a build.
//   1. the look for a file that is not there (every preloaded process pays it): in-process, warm file cache
//   2. reading one when it is there, in a fresh process each time (the loaders, the precompiled validator and
//      js-yaml are loaded only then): JSON, YAML, CommonJS
// Not part of `npm test`: timing belongs here, never in assertions.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.join(__dirname, '..');
const DIST = path.join(REPO, 'dist', 'register');
const { findConfigFile } = require(path.join(DIST, 'config', 'search.js'));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function layout() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-bench-config-')));
  const app = path.join(root, 'app');
  const deep = path.join(app, 'src', 'a', 'b', 'c');
  fs.mkdirSync(deep, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'bench-app', version: '1.0.0' }));
  return { root, app, deep };
}

function timeSearch(dir, rounds = 2000) {
  for (let i = 0; i < 200; i++) findConfigFile(dir);
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    findConfigFile(dir);
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return median(samples);
}

const CHILD = `
const t0 = process.hrtime.bigint();
const { readConfig } = require(${JSON.stringify(path.join(DIST, 'config', 'read.js'))});
const c = readConfig({}, process.cwd());
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
if (!c.file || c.problems.length) throw new Error('bench: config not read ' + JSON.stringify(c.problems));
console.log(ms);
`;

function timeFresh(dir, runs = 15) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['-e', CHILD], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(r.stderr);
    samples.push(Number(r.stdout.trim()));
  }
  return median(samples);
}

function main() {
  const { root, app, deep } = layout();
  try {
    console.log('No config file (per process, warm file cache):');
    console.log(`  from the project root           ${timeSearch(app).toFixed(1)} µs`);
    console.log(`  from 4 folders below it         ${timeSearch(deep).toFixed(1)} µs`);
    console.log(`  no package.json up to /         ${timeSearch(root).toFixed(1)} µs`);

    const body = {
      serviceName: 'bench',
      tracesExporter: ['otlp'],
      resourceAttributes: { 'deployment.environment': 'bench' },
      instrumentations: { http: { ignoreIncomingPaths: ['/health'] } },
    };
    const files = {
      '.otel-runrc.json': JSON.stringify(body, null, 2),
      '.otel-runrc.yaml':
        'serviceName: bench\ntracesExporter: [otlp]\nresourceAttributes:\n  deployment.environment: bench\ninstrumentations:\n  http:\n    ignoreIncomingPaths: ["/health"]\n',
      '.otel-runrc.cjs': `module.exports = ${JSON.stringify(body)};`,
    };
    console.log('A config file, first read in a fresh process (search + load + validate, modules included):');
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(app, name);
      fs.writeFileSync(file, text);
      console.log(`  ${name.padEnd(32)} ${timeFresh(app).toFixed(2)} ms`);
      fs.rmSync(file);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main();
