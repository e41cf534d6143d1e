// The trace exporters OTEL_TRACES_EXPORTER selects, one slot each (export/slot.ts): only the selected ones,
// each loaded at its first export (a batch leaves at the earliest after OTEL_BSP_SCHEDULE_DELAY), never at
// start.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { selected } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import { redactUrls } from '../util/redact';
import type { ExporterPlan } from './pipeline';
import { type BatchExporter, createSlot, otlpSlot, otlpSlotTo, type Slot } from './slot';

export type TraceSlot = Slot<ReadableSpan[]>;

export function createTraceSlots(settings: Settings): TraceSlot[] {
  const slots: TraceSlot[] = [];
  for (const name of selected(settings.tracesExporter)) {
    if (name === 'pretty') {
      slots.push((require('./pretty') as typeof import('./pretty')).prettySlot());
    } else if (name === 'console') {
      slots.push((require('./console') as typeof import('./console')).consoleSpanSlot());
    } else if (name === 'zipkin') {
      slots.push(zipkinSlot(settings.exporterZipkinEndpoint));
    } else if (name === 'otlp') {
      slots.push(otlpSlot<ReadableSpan[]>(settings, 'traces', (spans) => `${spans.length} spans`));
    }
  }
  return slots;
}

function zipkinSlot(url: string): TraceSlot {
  return createSlot({
    label: `zipkin to ${redactUrls(url)}`,
    make() {
      const { ZipkinExporter } =
        require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
      return new ZipkinExporter({ url }) as BatchExporter<ReadableSpan[]>;
    },
  });
}

/** The slot of one exporter the configuration file names (export/pipeline.ts). */
export function traceSlotFor(exporter: ExporterPlan): TraceSlot {
  if (exporter.type === 'console')
    return (require('./console') as typeof import('./console')).consoleSpanSlot();
  if (exporter.type === 'zipkin') return zipkinSlot(exporter.url);
  return otlpSlotTo<ReadableSpan[]>(exporter.target, 'traces', (spans) => `${spans.length} spans`);
}
