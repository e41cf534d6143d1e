// A tiny HTTP app for the quick start: a server, a client that calls it a few times, then a clean exit.
// Under otel-run each client request is a trace: a CLIENT span, the SERVER span under it, and for /checkout
// the calls the server makes itself (one with fetch, one with http.get), nested below.
'use strict';
const http = require('node:http');

function url(path) {
  return `http://127.0.0.1:${server.address().port}${path}`;
}

function get(path) {
  return new Promise((resolve, reject) => {
    http
      .get(url(path), (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  res.setHeader('content-type', 'text/plain');
  if (req.url === '/hello') {
    res.end('hello\n');
  } else if (req.url === '/checkout') {
    const stock = await (await fetch(url('/stock'))).text();
    const payment = await get('/pay');
    res.end(`checkout: ${stock} in stock, payment ${payment.body}\n`);
  } else if (req.url === '/stock') {
    res.end('12');
  } else if (req.url === '/pay') {
    res.end('accepted');
  } else {
    res.statusCode = 404;
    res.end('not found\n');
  }
});

server.listen(0, '127.0.0.1', async () => {
  for (const path of ['/hello', '/checkout', '/missing']) {
    const { status, body } = await get(path);
    console.log(`GET ${path} -> ${status} ${body.trim()}`);
  }
  server.close();
});
