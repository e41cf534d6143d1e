// Start cost of ES module apps under otel-run, by hand (or as the `esm` phase of bench/run.js):
//   npm run build && node bench/esm-start.js [runs] [--node <path to another Node binary>]
// Compares bare node with the preload (as `otel-run node …` sets it) for: an ES module hello world (the ESM
// hooks are registered, nothing is instrumented), the same with OTEL_RUN_ESM=off, a CommonJS hello world, and
// a script that makes one HTTP request and ends (its span is exported at exit), as ES module and CommonJS.
// Prints the median wall time and the median peak RSS of each. Runs alternate so drift hits every variant
// alike; on a busy machine the times mean little (compare the deltas of one run).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

// OTEL_RUN_BENCH_REGISTER: another build's preload, to compare two builds on the same machine and Node.
const REGISTER = process.env.OTEL_RUN_BENCH_REGISTER ?? path.join(__dirname, '..', 'register', 'index.cjs');
const report =
  "process.on('exit', () => process.stderr.write('rss ' + process.resourceUsage().maxRSS + '\\n'));";

function writeApps(dir) {
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"esm-bench","private":true}');
  fs.writeFileSync(path.join(dir, 'hello.mjs'), `${report}\nconsole.log('hello');\n`);
  fs.writeFileSync(path.join(dir, 'hello.cjs'), `${report}\nconsole.log('hello');\n`);
  // A CommonJS entry that require()s an ES module (require(esm)): where in-thread hooks exist, they are
  // registered at that require, not at start.
  fs.writeFileSync(path.join(dir, 'lib.mjs'), "import 'node:http';\nexport const x = 1;\n");
  fs.writeFileSync(path.join(dir, 'requires-esm.cjs'), `${report}\nconsole.log(require('./lib.mjs').x);\n`);
  fs.writeFileSync(
    path.join(dir, 'once.cjs'),
    `const http = require('node:http');\n${report}\nhttp.get(process.argv[2], (res) => { res.resume(); });\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'once.mjs'),
    `import http from 'node:http';\n${report}\nhttp.get(process.argv[2], (res) => { res.resume(); });\n`,
  );
}

function runOnce(node, dir, args, env) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(node, args, {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 20000,
    });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}\n${stderr}`));
      const rss = Number(/rss (\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
      resolve({ ms, rss });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Medians of every variant: `{ node, runs, variants: [{ label, ms, rssMiB }] }`. */
async function measureEsm({ node = process.execPath, runs = 20 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-esm-bench-'));
  writeApps(dir);
  // A local target for the one-request script and a sink for its span.
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(req.url === '/v1/traces' ? '' : 'ok'));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^OTEL_|^NODE_OPTIONS$/.test(k)),
  );
  const traced = {
    ...clean,
    NODE_OPTIONS: `--require ${REGISTER}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: base,
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
  const variants = [
    ['hello.mjs, bare node', ['hello.mjs'], clean],
    ['hello.mjs, otel-run', ['hello.mjs'], traced],
    ['hello.mjs, otel-run, OTEL_RUN_ESM=off', ['hello.mjs'], { ...traced, OTEL_RUN_ESM: 'off' }],
    ['hello.cjs, bare node', ['hello.cjs'], clean],
    ['hello.cjs, otel-run', ['hello.cjs'], traced],
    ['requires-esm.cjs, bare node', ['requires-esm.cjs'], clean],
    ['requires-esm.cjs, otel-run', ['requires-esm.cjs'], traced],
    ['once.mjs (1 request), bare node', ['once.mjs', `${base}/x`], clean],
    ['once.mjs (1 request), otel-run', ['once.mjs', `${base}/x`], traced],
    ['once.cjs (1 request), otel-run', ['once.cjs', `${base}/x`], traced],
  ];
  const results = variants.map(() => ({ ms: [], rss: [] }));
  for (const [, args, env] of variants) await runOnce(node, dir, args, env); // warm the OS and discovery caches
  for (let i = 0; i < runs; i++) {
    for (const [n, [, args, env]] of variants.entries()) {
      const r = await runOnce(node, dir, args, env);
      results[n].ms.push(r.ms);
      results[n].rss.push(r.rss);
    }
  }
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  return {
    node: version,
    runs,
    variants: variants.map(([label], n) => ({
      label,
      ms: median(results[n].ms),
      rssMiB: median(results[n].rss),
    })),
  };
}

function printEsm(r) {
  console.log(`\nES module start-up: node ${r.node}, ${r.runs} runs each, medians`);
  for (const v of r.variants) {
    console.log(
      `${v.label.padEnd(42)} ${v.ms.toFixed(1).padStart(7)} ms  ${v.rssMiB.toFixed(1).padStart(6)} MiB peak RSS`,
    );
  }
}

module.exports = { measureEsm, printEsm };

if (require.main === module) {
  const at = process.argv.indexOf('--node');
  const node = at > 0 ? path.resolve(process.argv[at + 1]) : process.execPath;
  const runs = Number(
    process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--node') ?? 20,
  );
  measureEsm({ node, runs })
    .then(printEsm)
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
