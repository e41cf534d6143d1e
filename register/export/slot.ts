// The one slot type every signal exports through (spans, metrics, log records): an exporter built at the
// first export, never at start (the grpc exporter alone costs more than the whole preload), an asynchronous
// send, and a synchronous path for the exit, where no event loop turn is left (process.exit(), an uncaught
// exception, a re-raised signal).
import { createRequire } from 'node:module';
import type { ExportResult } from '@opentelemetry/core';
import type { Settings } from '../settings/table';
import { redactUrls } from '../util/redact';
import * as log from '../util/stderr';
import { type OtlpTarget, otlpTarget, type Signal, targetLabel } from './target';
import { readTls } from './tls';

/** What a slot's exporter does with one batch (`B`: spans, log records, or one collection of metrics). */
export interface BatchExporter<B> {
  /** `written`, where the exporter can tell: whether the batch's request has left whole (true) or must be resent (false). */
  export(batch: B, done: (result: ExportResult) => void, written?: (whole: boolean) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface Slot<B> {
  /** For messages: `otlp http/protobuf to http://…`. */
  readonly label: string;
  /** The exporter, built at the first call. */
  exporter(): BatchExporter<B>;
  /** Delivers the batch before returning, within `timeoutMs`; false when it could not be. */
  exportSync(batch: B, timeoutMs: number): boolean;
  /** Whether exportSync really delivers (OTLP over HTTP, the console), or only starts the export (grpc, zipkin). */
  readonly synchronous: boolean;
  /** Shuts the exporter down if it was ever built (a slot that never exported loads nothing for it). */
  shutdown(): Promise<void>;
  /** The longest an item may wait in its batch for this slot (the terminal view wants it short). */
  readonly maxDelay?: number;
  /** Called on the synchronous exit path: an exporter that holds items itself hands them over now. */
  flushHeld?(): void;
}

export interface SlotParts<B> {
  label: string;
  make(): BatchExporter<B>;
  /**
   * The synchronous path. Without one (grpc, zipkin), the export starts and is lost if the process ends
   * before it completes (documented in the README's limits).
   */
  exportSync?(batch: B, timeoutMs: number): boolean;
  maxDelay?: number;
  flushHeld?(): void;
}

export function createSlot<B>(parts: SlotParts<B>): Slot<B> {
  let instance: BatchExporter<B> | undefined;
  const exporter = () => {
    instance ??= parts.make();
    return instance;
  };
  return {
    label: parts.label,
    exporter,
    synchronous: parts.exportSync !== undefined,
    exportSync:
      parts.exportSync ??
      ((batch) => {
        exporter().export(batch, () => {});
        return false;
      }),
    shutdown: () => instance?.shutdown() ?? Promise.resolve(),
    ...(parts.maxDelay === undefined ? {} : { maxDelay: parts.maxDelay }),
    ...(parts.flushHeld ? { flushHeld: parts.flushHeld } : {}),
  };
}

/** The official gRPC exporter of each signal (a separate package each; loaded only when selected). */
const GRPC: Record<Signal, { module: string; name: string }> = {
  traces: { module: '@opentelemetry/exporter-trace-otlp-grpc', name: 'OTLPTraceExporter' },
  metrics: { module: '@opentelemetry/exporter-metrics-otlp-grpc', name: 'OTLPMetricExporter' },
  logs: { module: '@opentelemetry/exporter-logs-otlp-grpc', name: 'OTLPLogExporter' },
};

function grpcExporter<B>(signal: Signal, target: OtlpTarget): BatchExporter<B> {
  const { module, name } = GRPC[signal];
  const { requireOptional } = require('../util/optional') as typeof import('../util/optional');
  const Exporter = requireOptional<Record<string, new (config: object) => BatchExporter<B>>>(module)[name];
  if (!Exporter) throw new Error(`${module} has no ${name}`);
  const config: Record<string, unknown> = {
    url: target.url,
    timeoutMillis: target.timeoutMillis,
    compression: target.compression,
  };
  const headers = Object.entries(target.headers);
  const { ca, cert, key } = target.tls;
  if (headers.length || ca || cert || key) {
    // The exporter's own @grpc/grpc-js, so Metadata and credentials are the classes it checks against.
    const grpc = createRequire(require.resolve(module))('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    if (headers.length) {
      const metadata = new grpc.Metadata();
      for (const [k, v] of headers) metadata.set(k, v);
      config.metadata = metadata;
    }
    if (ca || cert || key) {
      const pem = readTls(target.tls);
      config.credentials = grpc.credentials.createSsl(pem.ca ?? null, pem.key ?? null, pem.cert ?? null);
    }
  }
  return new Exporter(config);
}

/**
 * The OTLP slot of one signal, to the target the spec's rules give it. `describe` names a batch for the
 * message when the exit path could not deliver it (`12 spans`, `metrics`).
 */
export function otlpSlot<B>(settings: Settings, signal: Signal, describe: (batch: B) => string): Slot<B> {
  return otlpSlotTo(otlpTarget(settings, signal), signal, describe);
}

/** The OTLP slot to a given target (the configuration file gives each exporter its own). */
export function otlpSlotTo<B>(target: OtlpTarget, signal: Signal, describe: (batch: B) => string): Slot<B> {
  const label = targetLabel(target);
  if (target.protocol === 'grpc') return createSlot({ label, make: () => grpcExporter<B>(signal, target) });
  return createSlot({
    label,
    make() {
      // The official serializers, sent by export/send.ts: the official exporter's retry and timeout timers
      // are ref'd, and with an endpoint that refuses they held an ending app open for the whole OTLP
      // timeout (8.9 s measured) instead of OTEL_RUN_FLUSH_TIMEOUT.
      const { createPostingExporter } = require('./otlp') as typeof import('./otlp');
      return createPostingExporter<B>(signal, target);
    },
    exportSync(batch, timeoutMs) {
      const { postSerialized } = require('./otlp') as typeof import('./otlp');
      const outcome = postSerialized(signal, batch, target, timeoutMs);
      // One line for every outcome (a second one to the same endpoint would only go to debug).
      const usedUp = `the flush time (OTEL_RUN_FLUSH_TIMEOUT, ${timeoutMs} ms) was used up`;
      const more = outcome.lost ? `; ${outcome.lost} more were not sent (${usedUp}) and are lost` : '';
      if (!outcome.ok)
        // Sent but not answered in time: the collector may well have them (it did, with 200k spans).
        log.warnExport(
          redactUrls(
            `sending the last ${describe(batch)} to ${target.url} failed: ${outcome.reason} — ${outcome.unanswered ? 'they may not have arrived' : 'they are lost'}${more}`,
          ),
        );
      else if (outcome.lost)
        log.warnExport(
          redactUrls(
            `sending the last ${describe(batch)} to ${target.url}: ${usedUp} — ${outcome.lost} are lost`,
          ),
        );
      return outcome.ok && !outcome.lost;
    },
  });
}
