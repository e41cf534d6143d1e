// Load generator, run as its own process so it never shares an event loop with the app under test:
//   node loadgen.js <port> <path> <connections> <warmupMs> <durationMs>
// Each connection is a keep-alive socket that sends one GET, waits for the whole response, and sends the
// next (no pipelining), like autocannon/wrk in their default mode. It speaks just enough HTTP/1.1 for the
// benchmark app (Content-Length bodies) and is much cheaper than http.request, so the client is less of a
// bottleneck on a small machine. Bounded: it stops at the deadline whatever happens, and prints one JSON line.
'use strict';
const net = require('node:net');
const { responseReader } = require('./responses');
const { percentile } = require('./stats');

const [port, path, connections, warmupMs, durationMs] = [
  Number(process.argv[2]),
  process.argv[3] ?? '/',
  Number(process.argv[4] ?? 8),
  Number(process.argv[5] ?? 1000),
  Number(process.argv[6] ?? 5000),
];
const MAX_SAMPLES = 1 << 21;
const latencies = new Float64Array(MAX_SAMPLES);
let samples = 0;
let completed = 0;
let errors = 0;
let non200 = 0;
let measuring = false;
let stopping = false;
let measureStart = 0n;
let measureEnd = 0n;
const request = Buffer.from(
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`,
);
const sockets = new Set();

function open() {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  sockets.add(socket);
  let sentAt = 0n;
  const send = () => {
    if (stopping) return;
    sentAt = process.hrtime.bigint();
    socket.write(request);
  };
  socket.on('connect', send);
  socket.on(
    'data',
    responseReader(
      (status) => {
        const now = process.hrtime.bigint();
        if (measuring) {
          completed++;
          if (status !== 200) non200++;
          if (samples < MAX_SAMPLES) latencies[samples++] = Number(now - sentAt) / 1e6;
        }
        send();
      },
      () => {
        errors++;
        socket.destroy();
      },
    ),
  );
  socket.on('error', () => {
    errors++;
  });
  socket.on('close', () => {
    sockets.delete(socket);
    // A server that closes a keep-alive socket gets a new one, as a real client would open.
    if (!stopping) setImmediate(open);
  });
}

for (let i = 0; i < connections; i++) open();
setTimeout(() => {
  measuring = true;
  measureStart = process.hrtime.bigint();
  // Tells the benchmark to sample the server's CPU time now.
  process.stdout.write('measuring\n');
  setTimeout(() => {
    measureEnd = process.hrtime.bigint();
    measuring = false;
    stopping = true;
    const elapsed = Number(measureEnd - measureStart) / 1e9;
    const lat = Array.from(latencies.subarray(0, samples)).sort((a, b) => a - b);
    const result = {
      connections,
      seconds: elapsed,
      requests: completed,
      rps: completed / elapsed,
      errors,
      non200,
      p50: percentile(lat, 50),
      p90: percentile(lat, 90),
      p99: percentile(lat, 99),
      max: lat[lat.length - 1] ?? null,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    for (const s of sockets) s.destroy();
    // Whatever is still open must not keep the benchmark waiting.
    setTimeout(() => process.exit(0), 200).unref();
  }, durationMs);
}, warmupMs);
