// A batch log record processor with the OTEL_BLRP_* semantics of the SDK's BatchLogRecordProcessor, written
// here for the same reason as processor.ts for spans: at exit, every record it still holds must be handed
// over synchronously (`takePending`), and the SDK's keeps its buffer private.
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import * as log from './log';

export interface LogSlot {
  /** For messages: `otlp http/protobuf to http://…`. */
  readonly label: string;
  exporter(): {
    export(records: ReadableLogRecord[], done: (r: ExportResult) => void): void;
    shutdown(): Promise<void>;
  };
  /** Delivers the records before returning, within `timeoutMs`; false when they could not be. */
  exportSync(records: ReadableLogRecord[], timeoutMs: number): boolean;
}

export interface LogBatchOptions {
  scheduleDelay: number;
  exportTimeout: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

export class LogBatchProcessor implements LogRecordProcessor {
  private queue: ReadableLogRecord[] = [];
  private readonly inFlight = new Set<ReadableLogRecord[]>();
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private stopped = false;
  dropped = 0;

  constructor(
    readonly slot: LogSlot,
    private readonly options: LogBatchOptions,
  ) {}

  onEmit(record: SdkLogRecord): void {
    if (this.stopped) return;
    if (this.queue.length >= this.options.maxQueueSize) {
      if (this.dropped++ === 0)
        log.debug(`log record queue full (${this.options.maxQueueSize}): dropping new records`);
      return;
    }
    this.queue.push(record);
    if (this.queue.length >= this.options.maxExportBatchSize) this.exportBatch();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.exportBatch();
    }, this.options.scheduleDelay);
    // Never keeps the app alive: the exit paths flush what is left.
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
      if (!ok)
        log.warn(
          `exporting log records (${this.slot.label}) failed: ${why ?? 'unknown error'} — those records are dropped`,
        );
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
    // The host id and other detector attributes may still be on their way (the SDK's processor waits too).
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

  /** Everything not confirmed delivered (see BatchProcessor.takePending: a resend beats a loss). */
  takePending(): ReadableLogRecord[] {
    const records = [...this.inFlight].flat().concat(this.queue);
    this.inFlight.clear();
    this.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return records;
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
    await this.slot.exporter().shutdown();
  }
}
