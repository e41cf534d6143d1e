// The smallest OTLP/HTTP receiver that keeps exporters honest: it answers 200 to every POST (an empty body
// is a valid protobuf Export*ServiceResponse; JSON requests get `{}`) and counts requests and bytes per path.
// It never decodes: decoding would cost the benchmark's CPU, which the app under test shares.
'use strict';
const http = require('node:http');

function startReceiver() {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const c = counts.get(path) ?? { requests: 0, bytes: 0 };
      c.requests++;
      c.bytes += bytes;
      counts.set(path, c);
      const json = String(req.headers['content-type'] ?? '').includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  // Exporters keep their sockets open; the benchmark must still end.
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        /** Counts since the last reset, by path. */
        take() {
          const out = Object.fromEntries(counts);
          counts.clear();
          return out;
        },
        close() {
          server.closeAllConnections?.();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

module.exports = { startReceiver };
