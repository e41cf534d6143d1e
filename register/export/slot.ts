// The one slot type every signal exports through (spans, metrics, log records): an exporter built at the
// first export, never at start (the grpc exporter alone costs more than the whole preload), an asynchronous
// send, and a synchronous path for the exit, where no event loop turn is left (process.exit(), an uncaught
// exception, a re-raised signal).
import type { ExportResult } from '@opentelemetry/core';
import type { Settings } from '../settings/table';
import { redactUrls } from '../util/redact';
import * as log from '../util/stderr';
import { type OtlpTarget, otlpTarget, type Signal, targetLabel } from './target';

/** What a slot's exporter does with one batch (`B`: spans, log records, or one collection of metrics). */
export interface BatchExporter<B> {
  export(batch: B, done: (result: ExportResult) => void): void;
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
  const Exporter = (require(module) as Record<string, new (config: object) => BatchExporter<B>>)[name];
  if (!Exporter) throw new Error(`${module} has no ${name}`);
  return new Exporter({
    url: target.url,
    timeoutMillis: target.timeoutMillis,
    compression: target.compression,
  });
}

/**
 * The OTLP slot of one signal, to the target the spec's rules give it. `describe` names a batch for the
 * message when the exit path could not deliver it (`12 spans`, `metrics`).
 */
export function otlpSlot<B>(settings: Settings, signal: Signal, describe: (batch: B) => string): Slot<B> {
  const target = otlpTarget(settings, signal);
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
      if (!outcome.ok)
        log.warnExport(
          redactUrls(
            `sending the last ${describe(batch)} to ${target.url} failed: ${outcome.reason} — they are lost`,
          ),
        );
      return outcome.ok;
    },
  });
}
