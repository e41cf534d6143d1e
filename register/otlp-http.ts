// OTLP over HTTP for spans and log records, built from the exporters' own parts without their package index:
// `@opentelemetry/exporter-{trace,logs}-otlp-{proto,http}` load the whole `@opentelemetry/otlp-transformer`
// index, which loads `@opentelemetry/sdk-metrics` (otlp-transformer 0.223): a traces-only run would pay for
// the metrics SDK. The pieces are the same the official exporters compose (OTLPExporterBase, the node-http
// delegate with its retries, and the serializer), so the wire behaviour is theirs. Also the synchronous
// exit path: serialise with the same serializers and post from a worker (post-sync.ts).

import { createRequire } from 'node:module';
import type { ExportResult } from '@opentelemetry/core';
import { postSync, type SyncOutcome, type SyncRequest } from './post-sync';

const SUCCESS = 0;
const FAILED = 1;

export type HttpSignal = 'traces' | 'logs' | 'metrics';

interface Serializer {
  serializeRequest(items: unknown): Uint8Array | undefined;
}

export interface ItemExporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface HttpTarget {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  /** PEM file paths (https endpoints). */
  ca?: string;
  cert?: string;
  key?: string;
}

const PARTS: Record<HttpSignal, { dir: string; name: string; legacy: string; component: string }> = {
  traces: { dir: 'trace', name: 'Trace', legacy: 'TRACES', component: 'otlp_http_span_exporter' },
  logs: { dir: 'logs', name: 'Logs', legacy: 'LOGS', component: 'otlp_http_log_exporter' },
  metrics: { dir: 'metrics', name: 'Metrics', legacy: 'METRICS', component: 'otlp_http_metric_exporter' },
};

/** The serializer alone: `build/src/<signal>/<format>` loads nothing of the other signals. */
export function serializerFor(signal: HttpSignal, json: boolean): Serializer {
  const { dir, name } = PARTS[signal];
  const format = json ? 'json' : 'protobuf';
  const mod = require(`@opentelemetry/otlp-transformer/build/src/${dir}/${format}`) as Record<
    string,
    Serializer | undefined
  >;
  const serializer = mod[`${json ? 'Json' : 'Protobuf'}${name}Serializer`];
  if (!serializer)
    throw new Error(`@opentelemetry/otlp-transformer has no ${format} serializer for ${signal}`);
  return serializer;
}

/**
 * otlp-exporter-base is not a dependency of ours but of every OTLP exporter: resolve it from one of them, so it
 * is the copy they use wherever the package manager put it.
 */
function exporterBase(): { base: any; nodeHttp: any } {
  const from = createRequire(require.resolve('@opentelemetry/exporter-trace-otlp-http'));
  return {
    base: from('@opentelemetry/otlp-exporter-base'),
    nodeHttp: from('@opentelemetry/otlp-exporter-base/node-http'),
  };
}

/** An OTLP/HTTP exporter for spans or log records, as the official one for that signal and format. */
export function createHttpExporter<T>(
  signal: 'traces' | 'logs',
  json: boolean,
  target: HttpTarget,
  httpAgentOptions: unknown,
): ItemExporter<T> {
  const { base, nodeHttp } = exporterBase();
  const { dir, name, legacy, component } = PARTS[signal];
  const helper = require(`@opentelemetry/otlp-transformer/build/src/${dir}`)[`${name}ExporterMetricsHelper`];
  const options = nodeHttp.convertLegacyHttpOptions(
    {
      url: target.url,
      headers: target.headers,
      timeoutMillis: target.timeoutMillis,
      compression: target.compression,
      httpAgentOptions: httpAgentOptions,
    },
    legacy,
    signal === 'traces' ? 'v1/traces' : 'v1/logs',
    { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' },
  );
  const delegate = nodeHttp.createOtlpHttpExportDelegate(
    options,
    serializerFor(signal, json),
    json ? component.replace('otlp_http_', 'otlp_http_json_') : component,
    helper,
    undefined,
  );
  const exporter = new base.OTLPExporterBase(delegate) as ItemExporter<T>;
  // The export request itself must not be traced (by the http instrumentation): each export would make a
  // span, exported in turn, and so on. The SDK's processors run exports with tracing suppressed; ours
  // (processor.ts, log-processor.ts) call the exporter directly, so it is done here.
  const { context } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  return {
    export: (items, done) =>
      context.with(suppressTracing(context.active()), () => exporter.export(items, done)),
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
  };
}

/** The request for `items`, serialised (and compressed) as the official exporter would send it. */
export function buildRequest(
  signal: HttpSignal,
  json: boolean,
  items: unknown,
  target: HttpTarget,
): SyncRequest | undefined {
  let body = serializerFor(signal, json).serializeRequest(items);
  if (!body) return undefined;
  const headers: Record<string, string> = {
    ...target.headers,
    'content-type': json ? 'application/json' : 'application/x-protobuf',
  };
  if (target.compression === 'gzip') {
    body = (require('node:zlib') as typeof import('node:zlib')).gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  return { url: target.url, headers, body, ca: target.ca, cert: target.cert, key: target.key };
}

/** Serialises and posts one request while the main thread waits (the exit path). */
export function postSerialized(
  signal: HttpSignal,
  json: boolean,
  items: unknown,
  target: HttpTarget,
  timeoutMs: number,
): SyncOutcome {
  const request = buildRequest(signal, json, items, target);
  if (!request) return { ok: false, reason: 'nothing could be serialised' };
  return postSync(request, timeoutMs);
}

/**
 * An exporter for metrics or log records: the official serializers, sent by post-async.ts, where nothing of a
 * request in flight keeps the app alive.
 */
export function createPostingExporter<T>(
  signal: HttpSignal,
  json: boolean,
  target: HttpTarget,
): ItemExporter<T> {
  const inFlight = new Set<Promise<void>>();
  const flush = () => Promise.all([...inFlight]).then(() => {});
  return {
    export(items, done) {
      let request: SyncRequest | undefined;
      try {
        request = buildRequest(signal, json, items, target);
      } catch (err) {
        done({ code: FAILED, error: err instanceof Error ? err : new Error(String(err)) });
        return;
      }
      if (!request) {
        done({ code: FAILED, error: new Error('nothing could be serialised') });
        return;
      }
      const { postAsync } = require('./post-async') as typeof import('./post-async');
      const { context } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
      const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
      // Not traced (the http instrumentation would make a span of every export), retries included.
      const post = (r: SyncRequest) => postAsync(r, target.timeoutMillis);
      const sent = context
        .with(suppressTracing(context.active()), post, undefined, request)
        .then((outcome) => {
          inFlight.delete(sent);
          done(outcome.ok ? { code: SUCCESS } : { code: FAILED, error: new Error(outcome.reason) });
        });
      inFlight.add(sent);
    },
    forceFlush: flush,
    shutdown: flush,
  };
}
