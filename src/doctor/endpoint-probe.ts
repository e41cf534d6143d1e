// Does the exporter's endpoint answer? A real, empty export request (an ExportTraceServiceRequest with no
// spans, which a collector accepts and stores nothing for), with the configured headers and a short timeout:
// a TCP connect alone would miss a wrong path, a protocol mismatch or a rejected API key.
import { readTls, type TlsFiles, type TlsMaterial } from '../../register/export/tls';

export interface ProbeResult {
  /** ok: it accepted the request; warn: it answers but not as expected; problem: nothing usable. */
  level: 'ok' | 'warn' | 'problem';
  summary: string;
  hint?: string;
  status?: number;
  ms: number;
}

export interface ProbeTarget {
  url: string;
  protocol: 'http/protobuf' | 'http/json' | 'grpc' | 'zipkin';
  headers: Record<string, string>;
  timeoutMs: number;
  /** PEM file paths (https endpoints), read as the exporters read them. */
  tls?: TlsFiles;
  insecure?: boolean;
}

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

function tlsFiles(t: ProbeTarget): TlsMaterial {
  return t.tls ? readTls(t.tls) : {};
}

function networkError(err: NodeJS.ErrnoException, url: string, ms: number): ProbeResult {
  const code = err.code ?? '';
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (code === 'ECONNREFUSED')
    return {
      level: 'problem',
      summary: `nothing listens at ${host} (ECONNREFUSED)`,
      hint: 'start a collector (docker run -p 4318:4318 otel/opentelemetry-collector), set OTEL_EXPORTER_OTLP_ENDPOINT, or try --view to see traces in the terminal',
      ms,
    };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return {
      level: 'problem',
      summary: `host ${host} not found (${code})`,
      hint: 'check the endpoint’s host name',
      ms,
    };
  return { level: 'problem', summary: `request failed: ${code || err.message}`, ms };
}

function classify(status: number, t: ProbeTarget, ms: number): ProbeResult {
  const base = { status, ms };
  if (status >= 200 && status < 300)
    return { ...base, level: 'ok', summary: `answers (${status} in ${ms} ms)` };
  if (status === 401 || status === 403)
    return {
      ...base,
      level: 'problem',
      summary: `refuses the request (${status})`,
      hint: 'check the credentials in OTEL_EXPORTER_OTLP_HEADERS (or _TRACES_HEADERS)',
    };
  if (status === 404 || status === 405)
    return {
      ...base,
      level: 'problem',
      summary: `answers ${status}: not an OTLP traces endpoint at this path`,
      hint: 'OTEL_EXPORTER_OTLP_ENDPOINT is the base URL (/v1/traces is appended); OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is',
    };
  if (status === 415)
    return {
      ...base,
      level: 'problem',
      summary: `does not accept ${t.protocol} (415)`,
      hint: 'set OTEL_EXPORTER_OTLP_PROTOCOL to what the endpoint speaks (http/protobuf, http/json or grpc)',
    };
  if (status >= 500) return { ...base, level: 'problem', summary: `answers with a server error (${status})` };
  return { ...base, level: 'warn', summary: `answers, but refused an empty export (${status})` };
}

function probeHttp(t: ProbeTarget): Promise<ProbeResult> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(t.url);
    } catch {
      resolve({ level: 'problem', summary: `${t.url} is not a URL`, ms: 0 });
      return;
    }
    const body =
      t.protocol === 'http/json'
        ? Buffer.from('{"resourceSpans":[]}')
        : t.protocol === 'zipkin'
          ? Buffer.from('[]')
          : Buffer.alloc(0);
    const contentType = t.protocol === 'http/protobuf' ? 'application/x-protobuf' : 'application/json';
    const mod = (
      url.protocol === 'https:' ? require('node:https') : require('node:http')
    ) as typeof import('node:https');
    let files: ReturnType<typeof tlsFiles>;
    try {
      files = tlsFiles(t);
    } catch (err) {
      resolve({
        level: 'problem',
        summary: `cannot read a certificate file: ${(err as Error).message}`,
        ms: 0,
      });
      return;
    }
    const req = mod.request(url, {
      method: 'POST',
      headers: { ...t.headers, 'content-type': contentType, 'content-length': String(body.length) },
      timeout: t.timeoutMs,
      // No keep-alive: a pooled socket would hold the CLI open after the answer.
      agent: false,
      ...files,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(classify(res.statusCode ?? 0, t, elapsed())));
      res.on('error', () => resolve(classify(res.statusCode ?? 0, t, elapsed())));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({
        level: 'problem',
        summary: `no answer within ${t.timeoutMs} ms`,
        hint: 'a firewall, a wrong port, or an endpoint that does not speak HTTP',
        ms: elapsed(),
      });
    });
    req.on('error', (err) => resolve(networkError(err, t.url, elapsed())));
    req.end(body);
  });
}

/** gRPC over HTTP/2: one unary Export call with an empty message (5-byte frame: no compression, length 0). */
function probeGrpc(t: ProbeTarget): Promise<ProbeResult> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const http2 = require('node:http2') as typeof import('node:http2');
  const withScheme = /^[a-z]+:\/\//i.test(t.url) ? t.url : `${t.insecure ? 'http' : 'https'}://${t.url}`;
  return new Promise((resolve) => {
    let settled = false;
    let session: import('node:http2').ClientHttp2Session | undefined;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ level: 'problem', summary: `no answer within ${t.timeoutMs} ms`, ms: elapsed() }),
      t.timeoutMs,
    );
    try {
      const url = new URL(withScheme);
      session = http2.connect(url.origin, tlsFiles(t));
      session.on('error', (err) => done(networkError(err as NodeJS.ErrnoException, withScheme, elapsed())));
      const req = session.request({
        ':method': 'POST',
        ':path': GRPC_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...Object.fromEntries(Object.entries(t.headers).map(([k, v]) => [k.toLowerCase(), v])),
      });
      let grpcStatus: string | undefined;
      let grpcMessage: string | undefined;
      const note = (h: Record<string, unknown>) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(h['grpc-message']));
      };
      req.on('response', note);
      req.on('trailers', note);
      req.on('error', (err) => done(networkError(err as NodeJS.ErrnoException, withScheme, elapsed())));
      req.on('data', () => {});
      req.on('close', () => {
        const ms = elapsed();
        if (grpcStatus === '0') done({ level: 'ok', summary: `answers (grpc OK in ${ms} ms)`, ms });
        else if (grpcStatus === '16' || grpcStatus === '7')
          done({
            level: 'problem',
            summary: `refuses the request (grpc status ${grpcStatus}${grpcMessage ? `: ${grpcMessage}` : ''})`,
            hint: 'check the credentials in OTEL_EXPORTER_OTLP_HEADERS',
            ms,
          });
        else if (grpcStatus === '12')
          done({
            level: 'problem',
            summary: 'answers, but has no OTLP trace service (grpc UNIMPLEMENTED)',
            ms,
          });
        else
          done({
            level: grpcStatus === undefined ? 'problem' : 'warn',
            summary:
              grpcStatus === undefined
                ? 'answered without a grpc status: not a gRPC endpoint?'
                : `answers with grpc status ${grpcStatus}${grpcMessage ? `: ${grpcMessage}` : ''}`,
            ms,
          });
      });
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    } catch (err) {
      done({ level: 'problem', summary: `request failed: ${(err as Error).message}`, ms: elapsed() });
    }
  });
}

export function probe(t: ProbeTarget): Promise<ProbeResult> {
  return t.protocol === 'grpc' ? probeGrpc(t) : probeHttp(t);
}
