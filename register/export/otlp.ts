// OTLP over HTTP for spans, metrics and log records, built in one place: the official serializers of
// `@opentelemetry/otlp-transformer` (loaded per signal and format: its package index loads sdk-metrics and
// sdk-logs, which a traces-only run must not pay for), the headers and compression of the signal's target
// (export/target.ts), sent by export/send.ts (never holding the app open) or, on the exit path, by a worker
// while the main thread waits (export/send-sync.ts). The official exporters were not kept for sending: their
// retry and timeout timers are ref'd and held an ending app open for the whole OTLP timeout when the collector
// was down (measured 8.5-10.4 s, against the 3 s flush budget).

import type { ExportResult } from '@opentelemetry/core';
import * as log from '../util/stderr';
import type { SyncOutcome, SyncRequest } from './send-sync';
import type { OtlpTarget, Signal } from './target';

const SUCCESS = 0;
const FAILED = 1;

interface Serializer {
  serializeRequest(items: unknown): Uint8Array | undefined;
}

const PARTS: Record<Signal, { dir: string; name: string }> = {
  traces: { dir: 'trace', name: 'Trace' },
  logs: { dir: 'logs', name: 'Logs' },
  metrics: { dir: 'metrics', name: 'Metrics' },
};

/** The serializer alone: `build/src/<signal>/<format>` loads nothing of the other signals. */
function serializerFor(signal: Signal, json: boolean): Serializer {
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
export function buildRequest(signal: Signal, items: unknown, target: OtlpTarget): SyncRequest | undefined {
  const json = target.protocol === 'http/json';
  const body = serializerFor(signal, json).serializeRequest(items);
  return body ? requestFor(body, json, target) : undefined;
}

function requestFor(body: Uint8Array, json: boolean, target: OtlpTarget): SyncRequest {
  const headers: Record<string, string> = {
    ...target.headers,
    'content-type': json ? 'application/json' : 'application/x-protobuf',
  };
  if (target.compression === 'gzip') {
    body = (require('node:zlib') as typeof import('node:zlib')).gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  return { url: target.url, headers, body, tls: target.tls };
}

/** Items serialised at a time on the synchronous exit path: about 150 ms per 10,000 spans (Node 20, 2 cores). */
const SYNC_PART = 10_000;

export type SyncPost = SyncOutcome & {
  /** How many items went into the request. */
  sent: number;
  /** How many were left out because serialising them would have used up the budget. */
  lost: number;
};

/**
 * Serialises and posts one request while the main thread waits (the exit path). The budget covers
 * serialising too (200k spans took ~2.5 s to serialise, then waited the whole budget again): a list is
 * serialised in parts while time is left, keeping a third of the budget for the request. Protobuf messages
 * concatenated are one message with their lists joined, so the parts go in one request; JSON cannot be
 * joined and goes whole.
 */
export function postSerialized(
  signal: Signal,
  items: unknown,
  target: OtlpTarget,
  timeoutMs: number,
): SyncPost {
  const deadline = Date.now() + timeoutMs;
  const stopAt = deadline - Math.max(100, Math.floor(timeoutMs / 3));
  const json = target.protocol === 'http/json';
  const list = Array.isArray(items) && !json ? items : undefined;
  const total = list ? list.length : 1;
  let request: SyncRequest | undefined;
  let taken = 0;
  try {
    const serializer = serializerFor(signal, json);
    if (!list) {
      const body = serializer.serializeRequest(items);
      if (body) request = requestFor(body, json, target);
      taken = 1;
    } else {
      const parts: Uint8Array[] = [];
      while (taken < list.length && (taken === 0 || Date.now() < stopAt)) {
        const part = serializer.serializeRequest(list.slice(taken, taken + SYNC_PART));
        if (!part) break;
        parts.push(part);
        taken = Math.min(list.length, taken + SYNC_PART);
      }
      if (parts.length)
        request = requestFor(
          parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts),
          json,
          target,
        );
    }
  } catch (err) {
    return { ok: false, reason: log.reason(err), sent: 0, lost: total };
  }
  if (!request) return { ok: false, reason: 'nothing could be serialised', sent: 0, lost: total };
  const { postSync } = require('./send-sync') as typeof import('./send-sync');
  const sent = list ? taken : total;
  return { ...postSync(request, Math.max(1, deadline - Date.now())), sent, lost: total - sent };
}

export interface PostingExporter<B> {
  export(items: B, done: (result: ExportResult) => void, written?: (whole: boolean) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The asynchronous exporter of one signal: nothing of a request in flight keeps the app alive. */
export function createPostingExporter<B>(signal: Signal, target: OtlpTarget): PostingExporter<B> {
  const inFlight = new Set<Promise<void>>();
  const flush = () => Promise.all([...inFlight]).then(() => {});
  return {
    export(items, done, written) {
      let request: SyncRequest | undefined;
      try {
        request = buildRequest(signal, items, target);
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
      const post = (r: SyncRequest) => postAsync(r, target.timeoutMillis, written);
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
