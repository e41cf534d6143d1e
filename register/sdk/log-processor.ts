// A batch log record processor with the OTEL_BLRP_* semantics of the SDK's BatchLogRecordProcessor, written
// here for the same reason as export/batch-processor.ts for spans: at exit, every record it still holds must be handed
// over synchronously (`takePending`), and the SDK's keeps its buffer private. The queue is export/batch-processor.ts's.
import type { LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import { Batcher, type BatchOptions } from '../export/batch-processor';
import type { Slot } from '../export/slot';

export type LogSlot = Slot<ReadableLogRecord[]>;
export type LogBatchOptions = BatchOptions;

export class LogBatchProcessor extends Batcher<ReadableLogRecord> implements LogRecordProcessor {
  constructor(slot: LogSlot, options: LogBatchOptions) {
    super(slot, options, 'log records');
  }

  onEmit(record: SdkLogRecord): void {
    this.offer(record);
  }
}
