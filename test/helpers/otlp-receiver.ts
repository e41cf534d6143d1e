import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as zlib from 'node:zlib';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState?: string;
  name: string;
  /** OTLP enum: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, unknown>;
  /** OTLP enum: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
  events: { name: string; timeUnixNano: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, unknown> }[];
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  contentType: string;
}

export type MetricKind = 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary' | 'unknown';

export interface ReceivedMetric {
  name: string;
  description?: string;
  unit?: string;
  kind: MetricKind;
  /** Sum and histogram only. OTLP enum: 1 delta, 2 cumulative. */
  aggregationTemporality?: number;
  isMonotonic?: boolean;
  /**
   * The OTLP data points with `attributes` unwrapped, `asInt` turned into a number and all
   * nanosecond timestamps as decimal strings; everything else is kept as received.
   */
  dataPoints: unknown[];
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  contentType: string;
}

export interface ReceivedLog {
  body: unknown;
  severityText?: string;
  severityNumber?: number;
  timeUnixNano: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  contentType: string;
}

export interface ReceivedRequest {
  path: string;
  method: string;
  contentType: string;
  encoding?: string;
  headers: http.IncomingHttpHeaders;
  /** The status answered, or 0 while (or if never, with `hang`) unanswered. */
  status: number;
  /** Raw body size in bytes before decompression. */
  bytes: number;
}

export interface ReceiverOptions {
  /**
   * Status for every export request, or a function of the request path and the 1-based count of
   * requests seen on that path so far (so `n === 1` can fail the first attempt and let a retry through).
   */
  status?: number | ((path: string, n: number) => number);
  /** Never answer, to exercise exporter timeouts. */
  hang?: boolean;
  /** Answer this many milliseconds late. */
  delayMs?: number;
  /** Serve https with these (`requestCert` with `ca`: only clients with a certificate it signed). */
  tls?: https.ServerOptions;
}

export interface Receiver {
  url: string;
  port: number;
  /** Only data from requests answered with a 2xx status, as a collector would have accepted it. */
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
  logs: ReceivedLog[];
  /** Every request, whatever it was answered with. */
  requests: ReceivedRequest[];
  errors: string[];
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  waitForMetrics(
    predicate: (metrics: ReceivedMetric[]) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedMetric[]>;
  waitForLogs(predicate: (logs: ReceivedLog[]) => boolean, timeoutMs?: number): Promise<ReceivedLog[]>;
  reset(): void;
  close(): Promise<void>;
}

// Shapes shared by OTLP/JSON and protobufjs `toObject` output (both use lowerCamelCase field names).
interface RawAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: string | number;
  arrayValue?: { values?: RawAnyValue[] };
  kvlistValue?: { values?: RawKeyValue[] };
  bytesValue?: string;
}
interface RawKeyValue {
  key: string;
  value?: RawAnyValue;
}
interface RawResource {
  attributes?: RawKeyValue[];
}
interface RawScope {
  name?: string;
  version?: string;
}
type Id = string | Uint8Array;
type Nanos = string | number;
interface RawSpan {
  traceId?: Id;
  spanId?: Id;
  parentSpanId?: Id;
  traceState?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: Nanos;
  endTimeUnixNano?: Nanos;
  attributes?: RawKeyValue[];
  events?: { name?: string; timeUnixNano?: Nanos; attributes?: RawKeyValue[] }[];
  links?: { traceId?: Id; spanId?: Id; attributes?: RawKeyValue[] }[];
  status?: { code?: number | string; message?: string };
}
interface RawTraces {
  resourceSpans?: { resource?: RawResource; scopeSpans?: { scope?: RawScope; spans?: RawSpan[] }[] }[];
}
interface RawDataPoint {
  attributes?: RawKeyValue[];
  asInt?: string | number;
  [field: string]: unknown;
}
interface RawMetric {
  name?: string;
  description?: string;
  unit?: string;
  sum?: { dataPoints?: RawDataPoint[]; aggregationTemporality?: number | string; isMonotonic?: boolean };
  gauge?: { dataPoints?: RawDataPoint[] };
  histogram?: { dataPoints?: RawDataPoint[]; aggregationTemporality?: number | string };
  exponentialHistogram?: { dataPoints?: RawDataPoint[]; aggregationTemporality?: number | string };
  summary?: { dataPoints?: RawDataPoint[] };
}
interface RawMetrics {
  resourceMetrics?: {
    resource?: RawResource;
    scopeMetrics?: { scope?: RawScope; metrics?: RawMetric[] }[];
  }[];
}
interface RawLog {
  timeUnixNano?: Nanos;
  observedTimeUnixNano?: Nanos;
  severityNumber?: number | string;
  severityText?: string;
  body?: RawAnyValue;
  attributes?: RawKeyValue[];
  traceId?: Id;
  spanId?: Id;
}
interface RawLogs {
  resourceLogs?: { resource?: RawResource; scopeLogs?: { scope?: RawScope; logRecords?: RawLog[] }[] }[];
}

interface ProtoType {
  decode(buf: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
}
interface ProtoRoot {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: { ExportTraceServiceRequest: ProtoType } };
        metrics: { v1: { ExportMetricsServiceRequest: ProtoType } };
        logs: { v1: { ExportLogsServiceRequest: ProtoType } };
      };
    };
  };
}

// An independent (older, separately published) copy of the OTLP protos, so a bug in the SDK's
// own encoder cannot be masked by the same bug in the decoder.
const protoRoot = require('otlp-proto-decoder/build/src/generated/root.js') as ProtoRoot;
const collector = protoRoot.opentelemetry.proto.collector;

type Signal = 'traces' | 'metrics' | 'logs';

const SIGNAL_BY_PATH: Record<string, Signal> = {
  '/v1/traces': 'traces',
  '/v1/metrics': 'metrics',
  '/v1/logs': 'logs',
};

const PROTO_TYPES: Record<Signal, ProtoType> = {
  traces: collector.trace.v1.ExportTraceServiceRequest,
  metrics: collector.metrics.v1.ExportMetricsServiceRequest,
  logs: collector.logs.v1.ExportLogsServiceRequest,
};

// OTLP/JSON producers may send enums by name instead of number.
const ENUM_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

const SEVERITY_NAMES = [
  'SEVERITY_NUMBER_UNSPECIFIED',
  ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((level) =>
    ['', '2', '3', '4'].map((suffix) => `SEVERITY_NUMBER_${level}${suffix}`),
  ),
];

function enumValue(value: number | string | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const named = ENUM_NAMES[value];
  if (named !== undefined) return named;
  const severity = SEVERITY_NAMES.indexOf(value);
  if (severity >= 0) return severity;
  const n = Number(value);
  if (Number.isNaN(n)) throw new Error(`unknown enum value ${JSON.stringify(value)}`);
  return n;
}

function toHex(id: Id | undefined): string {
  if (id === undefined) return '';
  if (typeof id !== 'string') return Buffer.from(id).toString('hex');
  // OTLP/JSON mandates hex ids, but a producer following the generic protobuf JSON mapping sends
  // base64; a valid 8 or 16 byte id is never 16 or 32 base64 characters, so length disambiguates.
  if ((id.length === 16 || id.length === 32) && /^[0-9a-fA-F]+$/.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function nanos(value: Nanos | undefined): string {
  return value === undefined ? '0' : String(value);
}

function anyValue(value: RawAnyValue | undefined): unknown {
  if (value === undefined || value === null) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue !== undefined) return attributesOf(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return undefined;
}

function attributesOf(list: RawKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function scopeOf(scope: RawScope | undefined): { name: string; version?: string } {
  const out: { name: string; version?: string } = { name: scope?.name ?? '' };
  if (scope?.version) out.version = scope.version;
  return out;
}

export function flattenSpans(body: RawTraces, contentType: string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = scopeOf(ss.scope);
      for (const span of ss.spans ?? []) {
        const status: ReceivedSpan['status'] = { code: enumValue(span.status?.code) };
        if (span.status?.message) status.message = span.status.message;
        const flat: ReceivedSpan = {
          traceId: toHex(span.traceId),
          spanId: toHex(span.spanId),
          parentSpanId: toHex(span.parentSpanId),
          name: span.name ?? '',
          kind: enumValue(span.kind),
          startTimeUnixNano: nanos(span.startTimeUnixNano),
          endTimeUnixNano: nanos(span.endTimeUnixNano),
          attributes: attributesOf(span.attributes),
          status,
          events: (span.events ?? []).map((e) => ({
            name: e.name ?? '',
            timeUnixNano: nanos(e.timeUnixNano),
            attributes: attributesOf(e.attributes),
          })),
          links: (span.links ?? []).map((l) => ({
            traceId: toHex(l.traceId),
            spanId: toHex(l.spanId),
            attributes: attributesOf(l.attributes),
          })),
          resource,
          scope,
          contentType,
        };
        if (span.traceState) flat.traceState = span.traceState;
        out.push(flat);
      }
    }
  }
  return out;
}

// uint64 counts arrive as strings from protobuf (longs: String) but as numbers from most JSON
// exporters, and protobuf drops zero values entirely: make both look the same.
function counts(value: unknown): number {
  return value === undefined || value === null ? 0 : Number(value);
}

function flattenDataPoint(point: RawDataPoint, kind: MetricKind): Record<string, unknown> {
  const out: Record<string, unknown> = { ...point, attributes: attributesOf(point.attributes) };
  if (point.asInt !== undefined) out.asInt = Number(point.asInt);
  for (const key of ['startTimeUnixNano', 'timeUnixNano']) {
    if (out[key] !== undefined) out[key] = String(out[key]);
  }
  if (kind === 'histogram' || kind === 'exponentialHistogram' || kind === 'summary') {
    out.count = counts(out.count);
  }
  if (Array.isArray(out.bucketCounts)) out.bucketCounts = out.bucketCounts.map(counts);
  if (kind === 'exponentialHistogram') {
    out.zeroCount = counts(out.zeroCount);
    for (const side of ['positive', 'negative']) {
      const buckets = out[side] as { offset?: number; bucketCounts?: unknown[] } | undefined;
      if (buckets) {
        out[side] = { offset: buckets.offset ?? 0, bucketCounts: (buckets.bucketCounts ?? []).map(counts) };
      }
    }
  }
  return out;
}

function flattenMetrics(body: RawMetrics, contentType: string): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      const scope = scopeOf(sm.scope);
      for (const metric of sm.metrics ?? []) {
        const flat: ReceivedMetric = {
          name: metric.name ?? '',
          kind: 'unknown',
          dataPoints: [],
          resource,
          scope,
          contentType,
        };
        if (metric.description) flat.description = metric.description;
        if (metric.unit) flat.unit = metric.unit;
        const kinds = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'] as const;
        for (const kind of kinds) {
          const data = metric[kind];
          if (data === undefined || data === null) continue;
          flat.kind = kind;
          flat.dataPoints = (data.dataPoints ?? []).map((point) => flattenDataPoint(point, kind));
          if (kind === 'sum' || kind === 'histogram' || kind === 'exponentialHistogram') {
            const temporality = (data as { aggregationTemporality?: number | string }).aggregationTemporality;
            flat.aggregationTemporality = enumValue(temporality);
          }
          // protobuf omits a false isMonotonic altogether.
          if (kind === 'sum') flat.isMonotonic = metric.sum?.isMonotonic === true;
          break;
        }
        out.push(flat);
      }
    }
  }
  return out;
}

function flattenLogs(body: RawLogs, contentType: string): ReceivedLog[] {
  const out: ReceivedLog[] = [];
  for (const rl of body.resourceLogs ?? []) {
    const resource = attributesOf(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = scopeOf(sl.scope);
      for (const log of sl.logRecords ?? []) {
        const flat: ReceivedLog = {
          body: anyValue(log.body),
          timeUnixNano: nanos(log.timeUnixNano),
          traceId: toHex(log.traceId),
          spanId: toHex(log.spanId),
          attributes: attributesOf(log.attributes),
          resource,
          scope,
          contentType,
        };
        if (log.severityText) flat.severityText = log.severityText;
        if (log.severityNumber !== undefined) flat.severityNumber = enumValue(log.severityNumber);
        out.push(flat);
      }
    }
  }
  return out;
}

export function decodeBody(signal: Signal, contentType: string, body: Buffer): unknown {
  if (contentType === 'application/x-protobuf') {
    const type = PROTO_TYPES[signal];
    // bytes as base64 strings matches OTLP/JSON's bytesValue; ids are turned into hex by toHex.
    return type.toObject(type.decode(body), { longs: String, bytes: String });
  }
  if (contentType === 'application/json') {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('OTLP/JSON body is not an object');
    }
    return parsed;
  }
  throw new Error(`unsupported content-type ${JSON.stringify(contentType)}`);
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

async function waitFor<T>(
  what: string,
  items: () => T[],
  predicate: (items: T[]) => boolean,
  timeoutMs: number,
  describe: () => string,
): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Snapshot so a predicate never sees (or a caller never holds) an array still being appended to.
    const snapshot = items().slice();
    if (predicate(snapshot)) return snapshot;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; ${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const perPath = new Map<string, number>();
  let closed = false;

  const handle: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const contentType = mediaType(req.headers['content-type']);
    const encodingHeader = req.headers['content-encoding'];
    const record: ReceivedRequest = {
      path,
      method: req.method ?? '',
      contentType,
      headers: req.headers,
      status: 0,
      bytes: 0,
    };
    if (encodingHeader) record.encoding = encodingHeader;
    receiver.requests.push(record);

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', (err) =>
      receiver.errors.push(`${req.method} ${path}: request stream error: ${err.message}`),
    );
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      record.bytes = raw.length;
      const signal = SIGNAL_BY_PATH[path];
      const n = (perPath.get(path) ?? 0) + 1;
      perPath.set(path, n);
      let accepted: (() => void) | undefined;

      let status: number;
      if (req.method !== 'POST') {
        status = 405;
      } else if (signal === undefined) {
        status = 404;
      } else {
        // Data is only kept once answered 2xx, as a collector that refused it would not have it.
        let accept: (() => void) | undefined;
        try {
          const encoding = (encodingHeader ?? 'identity').trim().toLowerCase();
          if (encoding !== 'gzip' && encoding !== 'identity') {
            throw new Error(`unsupported content-encoding ${encoding}`);
          }
          const decoded = decodeBody(signal, contentType, encoding === 'gzip' ? zlib.gunzipSync(raw) : raw);
          if (signal === 'traces') {
            const spans = flattenSpans(decoded as RawTraces, contentType);
            // A loop, not push(...spans): a request of 200k spans would overflow the call stack.
            accept = () => {
              for (const s of spans) receiver.spans.push(s);
            };
          } else if (signal === 'metrics') {
            const metrics = flattenMetrics(decoded as RawMetrics, contentType);
            accept = () => receiver.metrics.push(...metrics);
          } else {
            const logs = flattenLogs(decoded as RawLogs, contentType);
            accept = () => receiver.logs.push(...logs);
          }
        } catch (err) {
          receiver.errors.push(`POST ${path} (${contentType}): ${(err as Error).message}`);
        }
        if (accept === undefined) {
          status = 400;
        } else {
          status = typeof opts.status === 'function' ? opts.status(path, n) : (opts.status ?? 200);
          if (status >= 200 && status < 300) accepted = accept;
        }
      }

      if (opts.hang) return;
      const answer = () => {
        if (closed || res.destroyed) return;
        record.status = status;
        accepted?.();
        // An empty ExportXServiceResponse is zero bytes in protobuf and `{}` in JSON.
        const json = contentType === 'application/json';
        const payload = json ? '{}' : '';
        res.writeHead(status, {
          'content-type': json ? 'application/json' : 'application/x-protobuf',
          'content-length': Buffer.byteLength(payload),
        });
        res.end(payload);
      };
      if (opts.delayMs && opts.delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, opts.delayMs);
        timers.add(timer);
      } else {
        answer();
      }
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A malformed request must show up in `errors`, not crash the test process.
  server.on('clientError', (err, socket) => {
    receiver.errors.push(`client error: ${err.message}`);
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const summary = () => {
    const statuses = receiver.requests.map((r) => `${r.path}=${r.status || 'pending'}`).join(', ');
    const errors = receiver.errors.length ? `; errors: ${receiver.errors.join(' | ')}` : '';
    return `requests: [${statuses}]${errors}`;
  };

  const receiver: Receiver = {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    spans: [],
    metrics: [],
    logs: [],
    requests: [],
    errors: [],
    waitForSpans(predicate, timeoutMs = 10000) {
      return waitFor(
        'spans',
        () => receiver.spans,
        predicate,
        timeoutMs,
        () => {
          const names = receiver.spans.map((s) => s.name);
          return `received ${names.length} span(s): ${JSON.stringify(names)}; ${summary()}`;
        },
      );
    },
    waitForMetrics(predicate, timeoutMs = 10000) {
      return waitFor(
        'metrics',
        () => receiver.metrics,
        predicate,
        timeoutMs,
        () => {
          const names = [...new Set(receiver.metrics.map((m) => m.name))];
          return `received metrics: ${JSON.stringify(names)}; ${summary()}`;
        },
      );
    },
    waitForLogs(predicate, timeoutMs = 10000) {
      return waitFor(
        'logs',
        () => receiver.logs,
        predicate,
        timeoutMs,
        () => {
          const bodies = receiver.logs.map((l) => l.body);
          return `received ${bodies.length} log(s): ${JSON.stringify(bodies)}; ${summary()}`;
        },
      );
    },
    reset() {
      // Truncate in place so references a test already holds stay live.
      receiver.spans.length = 0;
      receiver.metrics.length = 0;
      receiver.logs.length = 0;
      receiver.requests.length = 0;
      receiver.errors.length = 0;
      perPath.clear();
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // server.close() alone would wait forever on keep-alive and hung connections.
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return receiver;
}
