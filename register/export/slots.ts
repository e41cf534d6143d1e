// One slot per configured trace exporter. The exporter module is loaded at the first export (a batch
// leaves at the earliest after OTEL_BSP_SCHEDULE_DELAY), never at start, and only the selected one: the grpc
// exporter alone costs more than the whole preload. Each slot can also deliver synchronously at exit.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  type Settings,
  tracesCompression,
  tracesEndpoint,
  tracesHeaders,
  tracesProtocol,
  tracesTimeout,
} from '../settings/table';
import * as log from '../util/stderr';
import { postSync } from './send-sync';

export interface ExporterSlot {
  /** For messages: `otlp http/protobuf to http://…`. */
  readonly label: string;
  exporter(): SpanExporter;
  /** Delivers spans before returning, within `timeoutMs`; false when they could not be. */
  exportSync(spans: ReadableSpan[], timeoutMs: number): boolean;
  /** The longest a span may wait in its batch for this exporter (the terminal view wants it short). */
  readonly maxDelay?: number;
  /** Called on the synchronous exit path: an exporter that holds spans itself hands them over now. */
  flushHeld?(): void;
}

const SUCCESS = 0;

/** Writes spans to stderr: stdout belongs to the app (the stock ConsoleSpanExporter uses stdout). */
class StderrSpanExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.write(spans);
    done({ code: SUCCESS });
  }
  write(spans: ReadableSpan[]): void {
    const { inspect } = require('node:util') as typeof import('node:util');
    for (const span of spans) {
      const ctx = span.spanContext();
      const record = {
        resource: { attributes: span.resource.attributes },
        instrumentationScope: span.instrumentationScope,
        traceId: ctx.traceId,
        parentSpanContext: span.parentSpanContext,
        name: span.name,
        id: ctx.spanId,
        kind: span.kind,
        timestamp: span.startTime[0] * 1e6 + Math.round(span.startTime[1] / 1e3),
        duration: span.duration[0] * 1e6 + Math.round(span.duration[1] / 1e3),
        attributes: span.attributes,
        status: span.status,
        events: span.events,
        links: span.links,
      };
      try {
        process.stderr.write(`${inspect(record, { depth: 4, breakLength: 120, colors: false })}\n`);
      } catch {}
    }
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Export requests must not keep the app alive: a short script ends when its own work ends, as without
 * otel-run, and the exit path (beforeExit flush or the synchronous hand-off) takes care of what is pending.
 * Node's keep-alive agent refs a socket again when it reuses it (Agent#reuseSocket), so both are covered.
 */
export function unrefAgent(protocol: string): import('node:http').Agent {
  const mod = (
    protocol === 'https:' ? require('node:https') : require('node:http')
  ) as typeof import('node:http');
  const agent = new mod.Agent({ keepAlive: true });
  const create = agent.createConnection.bind(agent) as (
    ...a: unknown[]
  ) => import('node:net').Socket | undefined;
  (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = (
    ...args: unknown[]
  ) => {
    const socket = create(...args);
    socket?.unref?.();
    return socket;
  };
  const agentWithReuse = agent as unknown as {
    reuseSocket: (socket: import('node:net').Socket, req: unknown) => void;
  };
  const reuse = agentWithReuse.reuseSocket.bind(agent);
  agentWithReuse.reuseSocket = (socket, req) => {
    reuse(socket, req);
    socket.unref();
  };
  return agent;
}

function otlpHttpSlot(settings: Settings, json: boolean): ExporterSlot {
  const url = tracesEndpoint(settings);
  const headers = tracesHeaders(settings);
  const compression = tracesCompression(settings);
  const timeoutMillis = tracesTimeout(settings);
  let instance: SpanExporter | undefined;
  return {
    label: `otlp ${json ? 'http/json' : 'http/protobuf'} to ${url}`,
    exporter() {
      // The official serializers, sent by export/send.ts as metrics and log records are: the official
      // exporter's retry and timeout timers are ref'd, and with an endpoint that refuses they held an ending
      // app open for the whole OTLP timeout (8.9 s measured) instead of OTEL_RUN_FLUSH_TIMEOUT.
      if (!instance) {
        const { createPostingExporter } = require('./otlp') as typeof import('./otlp');
        const target = {
          url,
          headers,
          timeoutMillis,
          compression,
          ca: settings.exporterOtlpCertificate,
          cert: settings.exporterOtlpClientCertificate,
          key: settings.exporterOtlpClientKey,
        };
        instance = createPostingExporter('traces', json, target) as unknown as SpanExporter;
      }
      return instance;
    },
    exportSync(spans, timeoutMs) {
      // The serializer alone, not the transformer's index (which loads the metrics and logs SDKs).
      const serializer = json
        ? (
            require('@opentelemetry/otlp-transformer/build/src/trace/json') as {
              JsonTraceSerializer: { serializeRequest(s: ReadableSpan[]): Uint8Array | undefined };
            }
          ).JsonTraceSerializer
        : (
            require('@opentelemetry/otlp-transformer/build/src/trace/protobuf') as {
              ProtobufTraceSerializer: { serializeRequest(s: ReadableSpan[]): Uint8Array | undefined };
            }
          ).ProtobufTraceSerializer;
      let body = serializer.serializeRequest(spans);
      if (!body) return false;
      const requestHeaders: Record<string, string> = {
        ...headers,
        'content-type': json ? 'application/json' : 'application/x-protobuf',
      };
      if (compression === 'gzip') {
        body = (require('node:zlib') as typeof import('node:zlib')).gzipSync(body);
        requestHeaders['content-encoding'] = 'gzip';
      }
      const outcome = postSync(
        {
          url,
          headers: requestHeaders,
          body,
          ca: settings.exporterOtlpCertificate,
          cert: settings.exporterOtlpClientCertificate,
          key: settings.exporterOtlpClientKey,
        },
        timeoutMs,
      );
      if (!outcome.ok)
        log.warnExport(
          `sending the last ${spans.length} spans to ${url} failed: ${outcome.reason} — they are lost`,
        );
      return outcome.ok;
    },
  };
}

function asyncOnlySlot(label: string, make: () => SpanExporter): ExporterSlot {
  let instance: SpanExporter | undefined;
  const slot: ExporterSlot = {
    label,
    exporter() {
      instance ??= make();
      return instance;
    },
    exportSync(spans) {
      // grpc and zipkin have no synchronous path here: the export starts, and is lost if the process ends
      // before it completes (documented in the README's limits).
      slot.exporter().export(spans, () => {});
      return false;
    },
  };
  return slot;
}

export function createSlots(settings: Settings): ExporterSlot[] {
  const slots: ExporterSlot[] = [];
  const names = settings.tracesExporter.includes('none') ? [] : [...new Set(settings.tracesExporter)];
  for (const name of names) {
    if (name === 'pretty') {
      slots.push((require('./pretty') as typeof import('./pretty')).prettySlot());
    } else if (name === 'console') {
      const exporter = new StderrSpanExporter();
      slots.push({
        label: 'console (stderr)',
        exporter: () => exporter,
        exportSync(spans) {
          exporter.write(spans);
          return true;
        },
      });
    } else if (name === 'zipkin') {
      const url = settings.exporterZipkinEndpoint;
      slots.push(
        asyncOnlySlot(`zipkin to ${url}`, () => {
          const { ZipkinExporter } =
            require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
          return new ZipkinExporter({ url }) as unknown as SpanExporter;
        }),
      );
    } else if (name === 'otlp') {
      const protocol = tracesProtocol(settings);
      if (protocol === 'grpc') {
        const url = tracesEndpoint(settings);
        slots.push(
          asyncOnlySlot(`otlp grpc to ${url}`, () => {
            const { OTLPTraceExporter } = (
              require('../util/optional') as typeof import('../util/optional')
            ).requireOptional<typeof import('@opentelemetry/exporter-trace-otlp-grpc')>(
              '@opentelemetry/exporter-trace-otlp-grpc',
            );
            return new OTLPTraceExporter({
              url,
              timeoutMillis: tracesTimeout(settings),
              compression: tracesCompression(settings) as never,
            }) as unknown as SpanExporter;
          }),
        );
      } else {
        slots.push(otlpHttpSlot(settings, protocol === 'http/json'));
      }
    }
  }
  return slots;
}
