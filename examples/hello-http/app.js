// A tiny HTTP app for the quick start: a server, a client that calls it a few times, then a clean exit.
// Under otel-run every request becomes a CLIENT span with a SERVER span under it, in one trace each.
'use strict';
const http = require('node:http');

const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(req.url === '/hello' ? 'hello\n' : 'not found\n');
});

function get(path) {
  return new Promise((resolve, reject) => {
    const { port } = server.address();
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

server.listen(0, '127.0.0.1', async () => {
  for (const path of ['/hello', '/hello', '/missing']) {
    console.log(`GET ${path} -> ${await get(path)}`);
  }
  server.close();
});
