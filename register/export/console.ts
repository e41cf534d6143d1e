// OTEL_*_EXPORTER=console for every signal: one record per line on stderr, as util.inspect shows it. stdout
// belongs to the app (the stock ConsoleSpanExporter, ConsoleMetricExporter and ConsoleLogRecordExporter use
// stdout).

import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { writeStderr } from '../util/stderr';
import { createSlot, type Slot } from './slot';

const SUCCESS = 0;

/** Writes each record on its own line to stderr; a closed stderr loses them, never the app. */
export function writeToStderr(records: Iterable<object>, depth = 4): void {
  const { inspect } = require('node:util') as typeof import('node:util');
  for (const record of records) {
    writeStderr(`${inspect(record, { depth, breakLength: 120, colors: false })}\n`);
  }
}

const micros = (t: [number, number]) => t[0] * 1e6 + Math.round(t[1] / 1e3);

/** One record per span. */
function spanRecords(spans: ReadableSpan[]): object[] {
  return spans.map((span) => {
    const ctx = span.spanContext();
    return {
      resource: { attributes: span.resource.attributes },
      instrumentationScope: span.instrumentationScope,
      traceId: ctx.traceId,
      parentSpanContext: span.parentSpanContext,
      name: span.name,
      id: ctx.spanId,
      kind: span.kind,
      timestamp: micros(span.startTime),
      duration: micros(span.duration),
      attributes: span.attributes,
      status: span.status,
      events: span.events,
      links: span.links,
    };
  });
}

/** One record per log record. */
export function logRecords(records: ReadableLogRecord[]): object[] {
  return records.map((r) => ({
    resource: { attributes: r.resource.attributes },
    instrumentationScope: r.instrumentationScope,
    timestamp: micros(r.hrTime),
    traceId: r.spanContext?.traceId,
    spanId: r.spanContext?.spanId,
    severityText: r.severityText,
    severityNumber: r.severityNumber,
    body: r.body,
    attributes: r.attributes,
  }));
}

/** One record per metric. */
function metricRecords(metrics: ResourceMetrics): object[] {
  return metrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.map((metric) => ({
      descriptor: metric.descriptor,
      dataPointType: metric.dataPointType,
      dataPoints: metric.dataPoints,
    })),
  );
}

function consoleSlot<B>(toRecords: (batch: B) => object[], depth: number): Slot<B> {
  const write = (batch: B) => writeToStderr(toRecords(batch), depth);
  const exporter = {
    export(batch: B, done: (r: { code: number }) => void) {
      write(batch);
      done({ code: SUCCESS });
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  return createSlot({
    label: 'console (stderr)',
    make: () => exporter,
    exportSync(batch) {
      write(batch);
      return true;
    },
  });
}

export const consoleSpanSlot = (): Slot<ReadableSpan[]> => consoleSlot(spanRecords, 4);
export const consoleMetricSlot = (): Slot<ResourceMetrics> => consoleSlot(metricRecords, 6);
