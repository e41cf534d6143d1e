// The logs signal. A LoggerProvider registered globally (api-logs) so log-bridge instrumentations (pino,
// winston, bunyan) send their records, with the trace and span ids of the span current at the log call.
// Lazy twice over: nothing is registered unless OTEL_LOGS_EXPORTER selects an exporter, and what is
// registered is a stand-in whose loggers build the real SDK (sdk-logs, exporter) at the first record emitted:
// every instrumentation asks for a logger when it is constructed, and most never log.
import type { Logger, LoggerOptions, LoggerProvider, LogRecord } from '@opentelemetry/api-logs';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ExitFlush } from '../exit/shutdown';
import type { ProcessorPlan } from '../export/pipeline';
import { otlpSlotTo } from '../export/slot';
import { otlpTarget } from '../export/target';
import { selected } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';
import { LogBatchProcessor } from './log-processor';

export interface LogsSdk {
  exitFlush: ExitFlush;
  /** True once a record was emitted and the SDK built. */
  started(): boolean;
}

/** OTEL_LOGS_EXPORTER and the OTEL_BLRP_* settings as processors (export/pipeline.ts). */
function processorsFromSettings(settings: Settings): ProcessorPlan[] {
  const options = {
    scheduleDelay: settings.blrpScheduleDelay,
    exportTimeout: settings.blrpExportTimeout,
    maxQueueSize: settings.blrpMaxQueueSize,
    maxExportBatchSize: Math.min(settings.blrpMaxExportBatchSize, settings.blrpMaxQueueSize),
  };
  const out: ProcessorPlan[] = [];
  for (const name of selected(settings.logsExporter)) {
    if (name === 'console') out.push({ kind: 'simple', exporter: { type: 'console' }, options });
    else if (name === 'otlp')
      out.push({ kind: 'batch', exporter: { type: 'otlp', target: otlpTarget(settings, 'logs') }, options });
  }
  return out;
}

function buildProvider(
  settings: Settings,
  resource: Resource,
  plans: ProcessorPlan[],
): { provider: LoggerProvider; batches: LogBatchProcessor[] } {
  const sdk = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
  const processors: import('@opentelemetry/sdk-logs').LogRecordProcessor[] = [];
  const batches: LogBatchProcessor[] = [];
  for (const plan of plans) {
    if (plan.exporter.type === 'console') {
      const { logRecords, writeToStderr } =
        require('../export/console') as typeof import('../export/console');
      // Written at once (as the spec's console exporter with a simple processor): nothing waits at exit.
      processors.push({
        onEmit: (record) => writeToStderr(logRecords([record])),
        forceFlush: () => Promise.resolve(),
        shutdown: () => Promise.resolve(),
      });
    } else if (plan.exporter.type === 'otlp') {
      const slot = otlpSlotTo<ReadableLogRecord[]>(
        plan.exporter.target,
        'logs',
        (r) => `${r.length} log records`,
      );
      const batch = new LogBatchProcessor(slot, plan.options);
      batches.push(batch);
      processors.push(batch);
    }
  }
  const limits: Record<string, number> = {};
  const count = settings.logrecordAttributeCountLimit ?? settings.attributeCountLimit;
  const length = settings.logrecordAttributeValueLengthLimit ?? settings.attributeValueLengthLimit;
  if (count !== undefined) limits.attributeCountLimit = count;
  if (length !== undefined) limits.attributeValueLengthLimit = length;
  const provider = new sdk.LoggerProvider({ resource, processors, logRecordLimits: limits });
  return { provider, batches };
}

/** Registers the stand-in provider globally; the SDK is built at the first record. */
/** `plans`: the configuration file's processors; without it, the settings'. */
export function registerLogs(settings: Settings, resource: Resource, plans?: ProcessorPlan[]): LogsSdk {
  let real: { provider: LoggerProvider; batches: LogBatchProcessor[] } | null | undefined;
  const materialise = (): LoggerProvider | undefined => {
    if (real === undefined) {
      real = null;
      try {
        real = buildProvider(settings, resource, plans ?? processorsFromSettings(settings));
      } catch (err) {
        log.warn(`setting up logs failed: ${log.reason(err)} — log records are not exported`);
      }
    }
    return real?.provider;
  };

  class LazyLogger implements Logger {
    private logger: Logger | undefined;
    constructor(
      private readonly name: string,
      private readonly version?: string,
      private readonly options?: LoggerOptions,
    ) {}
    emit(record: LogRecord): void {
      try {
        this.logger ??= materialise()?.getLogger(this.name, this.version, this.options);
        this.logger?.emit(record);
      } catch (err) {
        log.warn(`emitting a log record failed: ${log.reason(err)} — that record is dropped`);
      }
    }
    enabled(options?: Parameters<Logger['enabled']>[0]): boolean {
      return this.logger ? this.logger.enabled(options) : true;
    }
  }

  const standIn: LoggerProvider = {
    getLogger: (name, version, options) => new LazyLogger(name, version, options),
  };
  const { logs } = require('@opentelemetry/api-logs') as typeof import('@opentelemetry/api-logs');
  logs.setGlobalLoggerProvider(standIn);
  (require('./api-copies') as typeof import('./api-copies')).registerLoggerProvider(standIn);

  const batches = () => real?.batches ?? [];
  return {
    started: () => !!real,
    exitFlush: {
      hasPending: () => batches().some((b) => b.hasPending()),
      flush: () => Promise.all(batches().map((b) => b.forceFlush())).then(() => {}),
      flushSync(why, timeoutMs) {
        const started = Date.now();
        for (const b of batches()) {
          const records = b.takePending();
          if (records.length === 0) continue;
          const left = timeoutMs - (Date.now() - started);
          log.debug(
            `${why}: sending ${records.length} pending log records (${b.slot.label}) within ${left} ms`,
          );
          try {
            b.slot.exportSync(records, left);
          } catch (err) {
            log.warn(
              `sending the last log records (${b.slot.label}) failed: ${log.reason(err)} — they are lost`,
            );
          }
        }
      },
    },
  };
}
