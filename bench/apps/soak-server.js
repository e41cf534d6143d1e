// The soak benchmark's app (bench/soak.js): an HTTP server making three spans a request (the http server span
// and two of its own through the API). Prints `listening <port>` when ready, then one JSON line of figures a
// second (after a full garbage collection): its RSS and heap, and, under otel-run, the span processor's counters. Ends on SIGTERM.
'use strict';
const http = require('node:http');
const { trace } = require('@opentelemetry/api');

const tracer = trace.getTracer('soak');
let served = 0;

const server = http.createServer((req, res) => {
  const parent = tracer.startSpan('handle', { attributes: { 'http.route': req.url } });
  tracer.startSpan('lookup', { attributes: { 'db.system': 'memory', n: served } }).end();
  parent.end();
  served++;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
  res.end('ok');
});

function counters() {
  const state = globalThis[Symbol.for('otel-run.state')];
  const processors = state?.sdk?.processors ?? [];
  const sum = (key) => processors.reduce((n, p) => n + (p[key] ?? 0), 0);
  return processors.length
    ? { exported: sum('exported'), dropped: sum('dropped'), failed: sum('failed') }
    : {};
}

function report() {
  // Started with --expose-gc: what is retained, not what the collector has not got to yet.
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ t: Date.now(), rss, heapUsed, served, ...counters() })}\n`);
}

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
  setInterval(report, 1000).unref();
});
process.on('SIGTERM', () => {
  report();
  server.close();
  server.closeAllConnections();
});
