// OTLP over HTTP for spans, metrics and log records: the official serializers of
// `@opentelemetry/otlp-transformer` (loaded per signal and format: its package index loads sdk-metrics and
// sdk-logs, which a traces-only run must not pay for), sent by export/send.ts (never holding the app open)
// or, on the exit path, by a worker while the main thread waits (export/send-sync.ts). The official exporters were
// not kept for sending: their retry and timeout timers are ref'd and held an ending app open for the whole
// OTLP timeout when the collector was down (measured 8.5-10.4 s, against the 3 s flush budget).

import type { ExportResult } from '@opentelemetry/core';
import { postSync, type SyncOutcome, type SyncRequest } from './send-sync';

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
 * An exporter for metrics or log records: the official serializers, sent by export/send.ts, where nothing of a
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
      const { postAsync } = require('./send') as typeof import('./send');
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
