// A batch span processor like the SDK's BatchSpanProcessor (same OTEL_BSP_* semantics), written here for one
// thing the SDK's cannot do: hand over every span it still holds, synchronously, when the process is about
// to end (`takePending`). The SDK's keeps its queue private, and a flush that needs the event loop cannot run
// inside process.on('exit').
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ExporterSlot } from './exporters';
import * as log from './log';

export interface BatchOptions {
  scheduleDelay: number;
  exportTimeout: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

const SAMPLED = 1;

export class BatchProcessor implements SpanProcessor {
  private queue: ReadableSpan[] = [];
  private readonly inFlight = new Set<ReadableSpan[]>();
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private stopped = false;
  dropped = 0;
  exported = 0;
  failed = 0;

  constructor(
    readonly slot: ExporterSlot,
    private readonly options: BatchOptions,
  ) {}

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & SAMPLED) === 0) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      // Bounded memory under a burst: new spans are dropped, and counted.
      if (this.dropped++ === 0)
        log.debug(`span queue full (${this.options.maxQueueSize}): dropping new spans`);
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.options.maxExportBatchSize) this.exportBatch();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.exportBatch();
    }, this.options.scheduleDelay);
    // The timer must never keep the app alive: the exit paths flush what is left.
    this.timer.unref();
  }

  private exportBatch(): void {
    if (this.queue.length === 0) {
      this.settle();
      return;
    }
    const batch = this.queue.splice(0, this.options.maxExportBatchSize);
    this.inFlight.add(batch);
    let finished = false;
    const finish = (ok: boolean, why?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      this.inFlight.delete(batch);
      if (ok) this.exported += batch.length;
      else {
        this.failed += batch.length;
        log.warn(
          `exporting spans (${this.slot.label}) failed: ${why ?? 'unknown error'} — those spans are dropped`,
        );
      }
      if (this.queue.length >= this.options.maxExportBatchSize) this.exportBatch();
      else if (this.queue.length) this.schedule();
      this.settle();
    };
    const guard = setTimeout(
      () => finish(false, `no answer within ${this.options.exportTimeout} ms`),
      this.options.exportTimeout,
    );
    guard.unref();
    const send = () => {
      try {
        this.slot.exporter().export(batch, (result) => {
          finish(result.code === 0, result.error ? log.reason(result.error) : undefined);
        });
      } catch (err) {
        finish(false, log.reason(err));
      }
    };
    // Resources may still be collecting attributes (host id is read asynchronously); the SDK's processor
    // waits for them too.
    const resource = batch[0]?.resource as {
      asyncAttributesPending?: boolean;
      waitForAsyncAttributes?: () => Promise<void>;
    };
    if (resource?.asyncAttributesPending && resource.waitForAsyncAttributes) {
      resource.waitForAsyncAttributes().then(send, send);
    } else {
      send();
    }
  }

  private settle(): void {
    if (this.queue.length === 0 && this.inFlight.size === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  hasPending(): boolean {
    return this.queue.length > 0 || this.inFlight.size > 0;
  }

  forceFlush(): Promise<void> {
    if (!this.hasPending()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      while (this.queue.length) this.exportBatch();
    });
  }

  /**
   * Everything not yet confirmed delivered: the queue and the batches whose request has not answered.
   * Called when no event loop turn is left, so an unanswered request is as good as lost; sending it again may
   * duplicate a batch the collector did receive, which is better than losing it (span ids make it harmless
   * to most backends).
   */
  takePending(): ReadableSpan[] {
    const spans = [...this.inFlight].flat().concat(this.queue);
    this.inFlight.clear();
    this.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return spans;
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    await this.slot.exporter().shutdown();
  }
}
