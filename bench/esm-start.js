// Start cost of ES module apps under otel-run, by hand:
//   npm run build && node bench/esm-start.js [runs]
// Compares bare node with the preload (as `otel-run node …` sets it) for: an ES module hello world (the ESM
// hooks are registered, nothing is instrumented), the same with OTEL_RUN_ESM=off, a CommonJS hello world, and
// a script that makes one HTTP request and ends (its span is exported at exit), as ES module and CommonJS.
// Prints the median wall time and the median peak RSS of each. Runs alternate so drift hits every variant
// alike; on a busy machine the times mean little (compare the deltas of one run).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const RUNS = Number(process.argv[2] ?? 20);
// OTEL_RUN_BENCH_REGISTER: another build's preload, to compare two builds on the same machine and Node.
const REGISTER = process.env.OTEL_RUN_BENCH_REGISTER ?? path.join(__dirname, '..', 'register', 'index.cjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-esm-bench-'));
const report =
  "process.on('exit', () => process.stderr.write('rss ' + process.resourceUsage().maxRSS + '\\n'));";
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

function runOnce(args, env) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
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

async function main() {
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
  for (const [, args, env] of variants) await runOnce(args, env); // warm the OS and discovery caches
  for (let i = 0; i < RUNS; i++) {
    for (const [n, [, args, env]] of variants.entries()) {
      const r = await runOnce(args, env);
      results[n].ms.push(r.ms);
      results[n].rss.push(r.rss);
    }
  }
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`node ${process.versions.node}, ${RUNS} runs each, medians`);
  for (const [n, [label]] of variants.entries()) {
    const ms = median(results[n].ms).toFixed(1).padStart(7);
    const rss = median(results[n].rss).toFixed(1).padStart(6);
    console.log(`${label.padEnd(42)} ${ms} ms  ${rss} MiB peak RSS`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
