// A batch span processor like the SDK's BatchSpanProcessor (same OTEL_BSP_* semantics), written here for one
// thing the SDK's cannot do: hand over every span it still holds, synchronously, when the process is about
// to end (`takePending`). The SDK's keeps its queue private, and a flush that needs the event loop cannot run
// inside process.on('exit').
//
// Memory stays bounded whatever the exporter does: at most `maxQueueSize` spans wait in the queue and one
// batch is in flight, as in the SDK's processor. While an export is outstanding (a slow, hanging or retrying
// endpoint), new spans queue up and, once the queue is full, are dropped and counted, never piled up in
// concurrent requests.
//
// The same queue serves log records (sdk/log-processor.ts): `Batcher<T>` holds everything but how items arrive.
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { redactUrls } from '../util/redact';
import * as log from '../util/stderr';
import type { Slot } from './slot';

export interface BatchOptions {
  scheduleDelay: number;
  exportTimeout: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

const SAMPLED = 1;

type Waiter = { upTo: number; resolve: () => void };

/** Runs `fn` with tracing suppressed, so the export's own requests are never traced (and exported, and...). */
function untraced(fn: () => void): void {
  const { context } = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  context.with(suppressTracing(context.active()), fn);
}

/** Items that carry their resource, whose detector attributes may still be on their way. */
interface WithResource {
  readonly resource: unknown;
}

export class Batcher<T extends WithResource> {
  private queue: T[] = [];
  private inFlight: T[] | undefined;
  /** The in-flight batch's request was handed whole to the kernel (it reaches the collector after an exit). */
  private inFlightWritten = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];
  private stopped = false;
  /** Spans accepted into the queue, and spans done with (exported, failed or taken): waiters compare them. */
  private accepted = 0;
  private settled = 0;
  /** The flush in progress exports back to back until this many spans are settled. */
  private flushUpTo = 0;
  private droppedReported = 0;
  dropped = 0;
  exported = 0;
  failed = 0;

  constructor(
    readonly slot: Slot<T[]>,
    private readonly options: BatchOptions,
    /** `spans`, `log records`: for messages. */
    private readonly what: string,
  ) {}

  /** Queues one finished item. */
  protected offer(item: T): void {
    if (this.stopped) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      // Bounded memory under a burst or a dead endpoint: new items are dropped, and counted.
      if (this.dropped++ === 0)
        log.debug(
          `${this.what} queue full (${this.options.maxQueueSize}): dropping new ${this.what} until it drains`,
        );
      return;
    }
    this.queue.push(item);
    this.accepted++;
    if (this.queue.length >= this.options.maxExportBatchSize) this.next();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.next();
    }, this.options.scheduleDelay);
    // The timer must never keep the app alive: the exit paths flush what is left.
    this.timer.unref();
  }

  /** Starts the next export unless one is outstanding (it calls back here when it ends). */
  private next(): void {
    if (this.inFlight) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) {
      this.settle();
      return;
    }
    this.exportBatch(this.queue.splice(0, this.options.maxExportBatchSize));
  }

  private exportBatch(batch: T[]): void {
    this.inFlight = batch;
    this.inFlightWritten = false;
    let finished = false;
    const finish = (ok: boolean, why?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      // takePending may have claimed the batch (and settled it) while it was out.
      if (this.inFlight !== batch) return;
      this.inFlight = undefined;
      this.settled += batch.length;
      if (ok) this.exported += batch.length;
      else {
        this.failed += batch.length;
        log.warnExport(
          redactUrls(
            `exporting ${this.what} (${this.slot.label}) failed: ${why ?? 'unknown error'} — those ${this.what} are dropped`,
          ),
        );
      }
      this.reportDropped();
      if (this.queue.length >= this.options.maxExportBatchSize || (this.flushing() && this.queue.length))
        this.next();
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
        untraced(() =>
          this.slot.exporter().export(
            batch,
            (result) => {
              finish(result.code === 0, result.error ? log.reason(result.error) : undefined);
            },
            (written) => {
              if (this.inFlight === batch) this.inFlightWritten = written;
            },
          ),
        );
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

  private flushing(): boolean {
    return this.settled < this.flushUpTo;
  }

  /** Under debug, how many spans the full queue turned away, once per overflow. */
  private reportDropped(): void {
    if (this.dropped === this.droppedReported || !log.isEnabled('debug')) return;
    log.debug(`${this.dropped - this.droppedReported} ${this.what} dropped because the queue was full`);
    this.droppedReported = this.dropped;
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const idle = this.queue.length === 0 && !this.inFlight;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (idle || this.settled >= w.upTo) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  hasPending(): boolean {
    return this.queue.length > 0 || this.inFlight !== undefined;
  }

  /** Resolves once every item accepted so far is exported or failed (items ended meanwhile may wait). */
  forceFlush(): Promise<void> {
    if (!this.hasPending()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ upTo: this.accepted, resolve });
      this.flushUpTo = Math.max(this.flushUpTo, this.accepted);
      this.next();
    });
  }

  /**
   * Everything not yet delivered: the queue, and the in-flight batch. Called when no event loop turn is left.
   * At a natural end or process.exit() (`resendWritten` false), a request already handed whole to the kernel
   * is not sent again: the kernel still delivers it when the process closes its sockets, and resending made
   * the last batch of nearly every short script arrive twice. When a signal ends the process (`resendWritten`
   * true) it is sent again: that path lost such batches now and then (seen on Node 22), and a duplicate beats
   * a loss. A request not yet written, or an exporter that cannot tell (grpc, zipkin), is always resent.
   */
  takePending(resendWritten = false): T[] {
    const skip = this.inFlight !== undefined && this.inFlightWritten && !resendWritten;
    const unsent = this.inFlight && !skip ? this.inFlight : [];
    if (this.inFlight && skip) this.settled += this.inFlight.length;
    const items = unsent.concat(this.queue);
    this.inFlight = undefined;
    this.queue = [];
    this.settled += items.length;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.settle();
    return items;
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    await this.slot.shutdown();
  }
}

/** The span processor: sampled spans only, into the queue. */
export class BatchProcessor extends Batcher<ReadableSpan> implements SpanProcessor {
  constructor(
    override readonly slot: Slot<ReadableSpan[]>,
    options: BatchOptions,
  ) {
    super(slot, options, 'spans');
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
    this.offer(span);
  }
}
