// Soak benchmark: `npm run soak` (build, then this script). Not part of `npm test`. An instrumented
// HTTP server under sustained load for a bounded time, once per phase:
//   bare          node soak-server.js                       (the app's own memory, for comparison)
//   up            otel-run, OTLP/HTTP to a receiver here that accepts everything
//   down-refused  otel-run, OTLP to a closed port (connections refused)
//   down-hanging  otel-run, OTLP to a receiver that reads requests and never answers
// Memory must stay flat: the span queue is bounded (OTEL_BSP_MAX_QUEUE_SIZE) and one batch is in flight, so
// whatever the exporter does, what otel-run holds is bounded. Prints, per phase: RSS at the start of the load
// and at its end (and the peak), requests served, spans the receiver decoded, and the processor's counters
// (exported, dropped because the queue was full, failed exports).
//
//   node bench/soak.js [--duration MS] [--warmup MS] [--connections N] [--max-requests N] [--only up,bare,...]
//
// Loopback only; every phase is bounded by time and by a request budget; every child is ended.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const REPO = path.resolve(__dirname, '..');
const BIN = path.join(REPO, 'bin', 'otel-run.js');
const PHASES = ['bare', 'up', 'down-refused', 'down-hanging'];

const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '3000' },
    connections: { type: 'string', default: '8' },
    'max-requests': { type: 'string', default: '2000000' },
    only: { type: 'string' },
  },
});
const DURATION = Number(argv.duration);
const WARMUP = Number(argv.warmup);
const CONNECTIONS = Number(argv.connections);
const MAX_REQUESTS = Number(argv['max-requests']);
const phases = argv.only ? argv.only.split(',') : PHASES;

if (!fs.existsSync(path.join(REPO, 'dist', 'register', 'main.js'))) {
  console.error('soak: build first (npm run build)');
  process.exit(1);
}

// Counts spans for real (decodes each trace request with an independent copy of the OTLP protos, after the
// phase: decoding while the app runs would take CPU from it); `answer: false` reads requests and never
// answers, as a collector stuck behind a full queue.
function startReceiver(answer) {
  const bodies = [];
  const stats = {
    requests: 0,
    spans() {
      const root = require('otlp-proto-decoder/build/src/generated/root.js');
      const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
      let n = 0;
      for (const body of bodies) {
        const decoded = Request.decode(body);
        for (const rs of decoded.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
      }
      return n;
    },
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      stats.requests++;
      if (!answer) return;
      if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        stats,
        close() {
          server.closeAllConnections();
          return new Promise((done) => server.close(() => done()));
        },
      }),
    );
  });
}

async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function appFolder() {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'otel-run-soak-'));
  fs.copyFileSync(path.join(__dirname, 'apps', 'soak-server.js'), path.join(dir, 'soak-server.js'));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    '{ "name": "soak-app", "version": "1.0.0", "private": true }\n',
  );
  const api = path.join(dir, 'node_modules', '@opentelemetry', 'api');
  fs.mkdirSync(path.dirname(api), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules', '@opentelemetry', 'api'), api, 'dir');
  return dir;
}

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|NODE_OPTIONS$|npm_)/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function lines(stream, onLine) {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const line of parts) onLine(line);
  });
}

const mib = (n) => (n === undefined ? '-' : `${(n / 1048576).toFixed(1)} MiB`);

async function phase(name, dir) {
  let receiver;
  let endpoint;
  if (name === 'up') receiver = await startReceiver(true);
  else if (name === 'down-hanging') receiver = await startReceiver(false);
  if (receiver) endpoint = receiver.url;
  else if (name === 'down-refused') endpoint = await closedPort();
  const traced = name !== 'bare';
  const [cmd, args] = traced
    ? [process.execPath, [BIN, process.execPath, '--expose-gc', 'soak-server.js']]
    : [process.execPath, ['--expose-gc', 'soak-server.js']];
  const env = cleanEnv(
    traced
      ? {
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http',
          OTEL_SERVICE_NAME: 'soak',
        }
      : {},
  );
  const app = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const samples = [];
  let stderr = '';
  app.stderr.setEncoding('utf8');
  app.stderr.on('data', (c) => {
    if (stderr.length < 10_000) stderr += c;
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: the app did not start\n${stderr}`)), 15_000);
    lines(app.stdout, (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else if (line.startsWith('{')) samples.push(JSON.parse(line));
    });
    app.once('exit', () => reject(new Error(`${name}: the app exited\n${stderr}`)));
  });
  const exited = new Promise((resolve) => app.once('exit', (code, signal) => resolve({ code, signal })));
  const load = (ms, max) =>
    new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(__dirname, 'lib', 'soak-load.js'), port, CONNECTIONS, ms, max].map(String),
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
      });
      child.once('exit', () => resolve(JSON.parse(out.trim() || '{"requests":0}')));
    });

  // Warm up (JIT, first exports, the export thread), then measure from the next sample on.
  await load(WARMUP, MAX_REQUESTS);
  const startIndex = samples.length;
  const started = Date.now();
  const result = await load(DURATION, MAX_REQUESTS);
  const elapsed = Date.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  try {
    process.kill(-app.pid, 'SIGTERM');
  } catch {}
  const killer = setTimeout(() => {
    try {
      process.kill(-app.pid, 'SIGKILL');
    } catch {}
  }, 15_000);
  const end = await exited;
  clearTimeout(killer);
  await receiver?.close();

  const during = samples.slice(Math.max(0, startIndex - 1));
  const first = during[0] ?? {};
  const last = samples[samples.length - 1] ?? {};
  const peak = Math.max(...during.map((s) => s.rss));
  const mid = during[Math.floor(during.length / 2)] ?? {};
  return {
    phase: name,
    requests: result.requests,
    reqPerSec: Math.round((result.requests / elapsed) * 1000),
    rssStart: first.rss,
    rssMid: mid.rss,
    rssEnd: last.rss,
    rssSamples: during.map((s) => s.rss),
    heapSamples: during.map((s) => s.heapUsed),
    rssPeak: peak,
    heapStart: first.heapUsed,
    heapEnd: last.heapUsed,
    received: receiver && name === 'up' ? receiver.stats.spans() : undefined,
    exported: last.exported,
    dropped: last.dropped,
    failed: last.failed,
    exit: end.signal ?? end.code,
    warnings: stderr
      .split('\n')
      .filter((l) => l.startsWith('otel-run: '))
      .slice(0, 3),
  };
}

async function main() {
  const dir = appFolder();
  console.log(
    `soak: ${phases.join(', ')}; ${DURATION / 1000} s of load each after ${WARMUP / 1000} s of warm-up, ${CONNECTIONS} connections, at most ${MAX_REQUESTS} requests; Node ${process.version}, ${os.cpus().length} CPUs`,
  );
  const rows = [];
  try {
    for (const name of phases) {
      if (!PHASES.includes(name)) throw new Error(`unknown phase ${name} (phases: ${PHASES.join(', ')})`);
      const r = await phase(name, dir);
      rows.push(r);
      console.log(
        `  ${r.phase.padEnd(13)} ${String(r.requests).padStart(8)} requests (${r.reqPerSec}/s)  RSS ${mib(r.rssStart)} -> ${mib(r.rssMid)} -> ${mib(r.rssEnd)} (peak ${mib(r.rssPeak)})  heap ${mib(r.heapStart)} -> ${mib(r.heapEnd)}` +
          (r.phase === 'bare'
            ? ''
            : `  spans: exported ${r.exported ?? '-'}${r.received !== undefined ? ` (receiver decoded ${r.received})` : ''}, dropped ${r.dropped ?? '-'}, failed ${r.failed ?? '-'}`),
      );
      for (const w of r.warnings) console.log(`      ${w}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const out = path.join(__dirname, 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    `${JSON.stringify({ node: process.version, DURATION, WARMUP, CONNECTIONS, rows }, null, 2)}\n`,
  );
  console.log(`soak: written to ${path.relative(REPO, out)}`);
}

main().catch((err) => {
  console.error(`soak: ${err.stack ?? err}`);
  process.exit(1);
});
