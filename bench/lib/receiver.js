// The smallest receiver that keeps exporters honest, for both kinds of peer in the benchmark:
// - OTLP/HTTP: answers 200 to every POST (an empty body is a valid protobuf Export*ServiceResponse; JSON
//   requests get `{}`);
// - a Datadog agent that drops what it gets: `PUT /v0.4|v0.5/traces` answers what dd-trace expects
//   (`{"rate_by_service":…}`), `/info` and remote configuration 404 (no agent features: the tracer keeps its
//   defaults), anything else (telemetry, stats) 202.
// It counts requests, bytes and spans per path. Spans are counted by walking the encoding without decoding
// it (protobuf field tags, msgpack headers): decoding would cost the benchmark's CPU, which the app under
// test shares.
'use strict';
const http = require('node:http');

// ------------------------------------------------------------------------------------- OTLP protobuf

function varint(b, o) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = b[o++];
    if (byte === undefined) throw new Error('truncated varint');
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, o];
    shift += 7;
  }
}

/** Calls `onField(field, start, end)` for each length-delimited field of the message in b[o, end). */
function fields(b, o, end, onField) {
  while (o < end) {
    const [tag, p] = varint(b, o);
    const wire = tag & 7;
    if (wire === 2) {
      const [len, q] = varint(b, p);
      onField(Math.floor(tag / 8), q, q + len);
      o = q + len;
    } else if (wire === 0) o = varint(b, p)[1];
    else if (wire === 1) o = p + 8;
    else if (wire === 5) o = p + 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** ExportTraceServiceRequest: resource_spans = 1 → scope_spans = 2 → spans = 2. */
function countOtlpProtobufSpans(b) {
  let spans = 0;
  fields(b, 0, b.length, (f, s, e) => {
    if (f !== 1) return;
    fields(b, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(b, s2, e2, (f3) => {
        if (f3 === 2) spans++;
      });
    });
  });
  return spans;
}

function countOtlpJsonSpans(text) {
  let spans = 0;
  for (const rs of JSON.parse(text).resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
  }
  return spans;
}

// ------------------------------------------------------------------------------------- Datadog msgpack

/** Offset after the msgpack value at `o`. */
function skip(b, o) {
  const t = b[o++];
  if (t <= 0x7f || t >= 0xe0) return o;
  if (t >= 0x80 && t <= 0x8f) return skipN(b, o, (t & 0x0f) * 2);
  if (t >= 0x90 && t <= 0x9f) return skipN(b, o, t & 0x0f);
  if (t >= 0xa0 && t <= 0xbf) return o + (t & 0x1f);
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return o;
    case 0xc4:
    case 0xd9:
      return o + 1 + b[o];
    case 0xc5:
    case 0xda:
      return o + 2 + b.readUInt16BE(o);
    case 0xc6:
    case 0xdb:
      return o + 4 + b.readUInt32BE(o);
    case 0xc7:
      return o + 2 + b[o];
    case 0xc8:
      return o + 3 + b.readUInt16BE(o);
    case 0xc9:
      return o + 5 + b.readUInt32BE(o);
    case 0xca:
    case 0xce:
    case 0xd2:
      return o + 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return o + 8;
    case 0xcc:
    case 0xd0:
      return o + 1;
    case 0xcd:
    case 0xd1:
      return o + 2;
    case 0xd4:
      return o + 2;
    case 0xd5:
      return o + 3;
    case 0xd6:
      return o + 5;
    case 0xd7:
      return o + 9;
    case 0xd8:
      return o + 17;
    case 0xdc:
      return skipN(b, o + 2, b.readUInt16BE(o));
    case 0xdd:
      return skipN(b, o + 4, b.readUInt32BE(o));
    case 0xde:
      return skipN(b, o + 2, b.readUInt16BE(o) * 2);
    case 0xdf:
      return skipN(b, o + 4, b.readUInt32BE(o) * 2);
  }
  throw new Error(`msgpack type 0x${t.toString(16)}`);
}

function skipN(b, o, n) {
  for (let i = 0; i < n; i++) o = skip(b, o);
  return o;
}

function arrayHeader(b, o) {
  const t = b[o];
  if (t >= 0x90 && t <= 0x9f) return [t & 0x0f, o + 1];
  if (t === 0xdc) return [b.readUInt16BE(o + 1), o + 3];
  if (t === 0xdd) return [b.readUInt32BE(o + 1), o + 5];
  throw new Error('not an array');
}

/** v0.4: array<trace>, trace = array<span>; v0.5: [string table, array<trace>]. */
function countDatadogSpans(b, v05) {
  let o = 0;
  if (v05) o = skip(b, arrayHeader(b, 0)[1]);
  let [traces, p] = arrayHeader(b, o);
  let spans = 0;
  for (; traces > 0; traces--) {
    const [n, q] = arrayHeader(b, p);
    spans += n;
    p = skipN(b, q, n);
  }
  return spans;
}

// ------------------------------------------------------------------------------------- server

function countSpans(path, contentType, body) {
  if (body.length === 0) return 0;
  try {
    if (path === '/v1/traces') {
      return contentType.includes('json')
        ? countOtlpJsonSpans(body.toString('utf8'))
        : countOtlpProtobufSpans(body);
    }
    if (/^\/v0\.[45]\/traces$/.test(path)) return countDatadogSpans(body, path === '/v0.5/traces');
  } catch {
    return Number.NaN; // shows up in the report instead of a wrong count
  }
  return 0;
}

function startReceiver() {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const body = Buffer.concat(chunks);
      const contentType = String(req.headers['content-type'] ?? '');
      const c = counts.get(path) ?? { requests: 0, bytes: 0, spans: 0 };
      c.requests++;
      c.bytes += body.length;
      c.spans += countSpans(path, contentType, body);
      counts.set(path, c);
      if (/^\/v0\.[345]\/traces$/.test(path)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"rate_by_service":{"service:,env:":1}}');
      } else if (path === '/info' || path.startsWith('/v0.7/config')) {
        res.writeHead(404);
        res.end();
      } else if (req.method === 'POST' && path.startsWith('/v1/')) {
        const json = contentType.includes('json');
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : '');
      } else {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end('{}');
      }
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
        /** Spans received since the last reset, over every trace path. */
        spans() {
          let n = 0;
          for (const c of counts.values()) n += c.spans;
          return n;
        },
        close() {
          server.closeAllConnections?.();
          return new Promise((done) => server.close(() => done()));
        },
      });
    });
  });
}

module.exports = { countOtlpProtobufSpans, countDatadogSpans, startReceiver };
