// How long the way out takes with a large queue, against OTEL_RUN_FLUSH_TIMEOUT: `node bench/exit-budget.js
// [--spans N] [--budget MS] [--runs N]` after `npm run build`. Not part of `npm test`; loopback only, every
// child bounded. The app (test/fixtures/faults-app, mode `burst`) ends N spans and then ends naturally; the
// queue is as large as N, so only the exit path sends them. Measured: from the app's last line on stdout to
// the CLI's exit, with a sink that answers at once and with one that never answers (then the budget is what
// bounds the exit). The sink counts bytes and requests, it does not decode.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const REPO = path.join(__dirname, '..');
const BIN = path.join(REPO, 'bin', 'otel-run.js');
const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '200000' },
    budget: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
  },
});

function sink(answer) {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (chunk) => {
      stats.bytes += chunk.length;
    });
    req.on('end', () => {
      stats.requests++;
      if (answer) res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, stats, url: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}

function runOnce(dir, url) {
  return new Promise((resolve) => {
    let lastLine = 0;
    let stderr = '';
    const child = spawn(process.execPath, [BIN, process.execPath, 'app.js', 'burst'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        BURST: values.spans,
        OTEL_BSP_MAX_QUEUE_SIZE: values.spans,
        OTEL_RUN_FLUSH_TIMEOUT: values.budget,
        OTEL_EXPORTER_OTLP_ENDPOINT: url,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
      },
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('burst done')) lastLine = Date.now();
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({
        exitMs: Date.now() - lastLine,
        code,
        signal,
        said: stderr.trim().split('\n').filter(Boolean),
      });
    });
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otel-run-exit-bench-'));
  try {
    fs.cpSync(path.join(REPO, 'test', 'fixtures', 'faults-app'), dir, { recursive: true });
    fs.mkdirSync(path.join(dir, 'node_modules', '@opentelemetry'), { recursive: true });
    fs.symlinkSync(
      path.join(REPO, 'node_modules', '@opentelemetry', 'api'),
      path.join(dir, 'node_modules', '@opentelemetry', 'api'),
    );
    console.log(
      `${values.spans} spans pending at the exit, budget ${values.budget} ms, Node ${process.version}`,
    );
    for (const answer of [true, false]) {
      const s = await sink(answer);
      for (let i = 0; i < Number(values.runs); i++) {
        s.stats.requests = 0;
        s.stats.bytes = 0;
        const r = await runOnce(dir, s.url);
        console.log(
          `${answer ? 'sink answers     ' : 'sink never answers'}  exit ${String(r.exitMs).padStart(5)} ms` +
            `  code ${r.code}  ${s.stats.requests} request(s), ${(s.stats.bytes / 1e6).toFixed(1)} MB` +
            (r.said.length ? `  said: ${r.said.join(' | ')}` : ''),
        );
      }
      s.server.closeAllConnections();
      await new Promise((resolve) => s.server.close(resolve));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
