// Load for the soak benchmark (bench/soak.js), in its own process: `node soak-load.js <port> <connections>
// <durationMs> <maxRequests>`. Keep-alive connections over loopback, one request at a time each, until the
// deadline or the request budget, whichever comes first. Prints one JSON line: requests, errors, non-200s.
'use strict';
const net = require('node:net');
const { responseReader } = require('./responses');

const [port, connections, durationMs, maxRequests] = process.argv.slice(2).map(Number);
const request = Buffer.from(
  `GET /soak HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`,
);
let sent = 0;
let completed = 0;
let errors = 0;
let non200 = 0;
let stopping = false;
const sockets = new Set();

function open() {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  sockets.add(socket);
  const send = () => {
    if (stopping || sent >= maxRequests) return finishIfIdle();
    sent++;
    socket.write(request);
  };
  socket.on('connect', send);
  socket.on(
    'data',
    responseReader(
      (status) => {
        if (status !== 200) non200++;
        completed++;
        send();
      },
      () => {
        errors++;
        socket.destroy();
      },
    ),
  );
  socket.on('error', () => errors++);
  socket.on('close', () => {
    sockets.delete(socket);
    if (!stopping && sent < maxRequests) setTimeout(open, 10);
    else finishIfIdle();
  });
}

function finishIfIdle() {
  if (completed + errors < sent && !stopping) return;
  finish();
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  stopping = true;
  for (const s of sockets) s.destroy();
  process.stdout.write(`${JSON.stringify({ requests: completed, errors, non200 })}\n`);
  process.exit(0);
}

setTimeout(finish, durationMs);
for (let i = 0; i < connections; i++) open();
