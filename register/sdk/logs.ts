// The logs signal. A LoggerProvider registered globally (api-logs) so log-bridge instrumentations (pino,
// winston, bunyan) send their records, with the trace and span ids of the span current at the log call.
// Lazy twice over: nothing is registered unless OTEL_LOGS_EXPORTER selects an exporter, and what is
// registered is a stand-in whose loggers build the real SDK (sdk-logs, exporter) at the first record emitted:
// every instrumentation asks for a logger when it is constructed, and most never log.
import type { Logger, LoggerOptions, LoggerProvider, LogRecord } from '@opentelemetry/api-logs';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ExitFlush } from '../exit/shutdown';
import { otlpTarget, selected } from '../settings/endpoints';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';
import { LogBatchProcessor, type LogSlot } from './log-processor';

export interface LogsSdk {
  exitFlush: ExitFlush;
  /** True once a record was emitted and the SDK built. */
  started(): boolean;
}

/** Writes log records to stderr, one per line: stdout belongs to the app. */
function writeRecords(records: ReadableLogRecord[]): void {
  const { inspect } = require('node:util') as typeof import('node:util');
  for (const r of records) {
    const record = {
      resource: { attributes: r.resource.attributes },
      instrumentationScope: r.instrumentationScope,
      timestamp: r.hrTime[0] * 1e6 + Math.round(r.hrTime[1] / 1e3),
      traceId: r.spanContext?.traceId,
      spanId: r.spanContext?.spanId,
      severityText: r.severityText,
      severityNumber: r.severityNumber,
      body: r.body,
      attributes: r.attributes,
    };
    try {
      process.stderr.write(`${inspect(record, { depth: 4, breakLength: 120, colors: false })}\n`);
    } catch {}
  }
}

function otlpSlot(settings: Settings): LogSlot {
  const target = otlpTarget(settings, 'logs');
  const label = `otlp ${target.protocol} to ${target.url}`;
  type Exporter = ReturnType<LogSlot['exporter']>;
  let instance: Exporter | undefined;
  if (target.protocol === 'grpc') {
    const make = (): Exporter => {
      const { OTLPLogExporter } = (
        require('../util/optional') as typeof import('../util/optional')
      ).requireOptional<typeof import('@opentelemetry/exporter-logs-otlp-grpc')>(
        '@opentelemetry/exporter-logs-otlp-grpc',
      );
      return new OTLPLogExporter({
        url: target.url,
        timeoutMillis: target.timeoutMillis,
        compression: target.compression as never,
      });
    };
    return {
      label,
      exporter: () => {
        instance ??= make();
        return instance;
      },
      exportSync(records) {
        instance ??= make();
        instance.export(records, () => {});
        return false;
      },
    };
  }
  const json = target.protocol === 'http/json';
  const tls = {
    ca: settings.exporterOtlpCertificate,
    cert: settings.exporterOtlpClientCertificate,
    key: settings.exporterOtlpClientKey,
  };
  return {
    label,
    exporter() {
      if (!instance) {
        const { createPostingExporter } = require('../export/otlp') as typeof import('../export/otlp');
        instance = createPostingExporter<ReadableLogRecord[]>('logs', json, { ...target, ...tls });
      }
      return instance;
    },
    exportSync(records, timeoutMs) {
      const { postSerialized } = require('../export/otlp') as typeof import('../export/otlp');
      const outcome = postSerialized('logs', json, records, { ...target, ...tls }, timeoutMs);
      if (!outcome.ok)
        log.warnExport(
          `sending the last ${records.length} log records to ${target.url} failed: ${outcome.reason} — they are lost`,
        );
      return outcome.ok;
    },
  };
}

function buildProvider(
  settings: Settings,
  resource: Resource,
): { provider: LoggerProvider; batches: LogBatchProcessor[] } {
  const sdk = require('@opentelemetry/sdk-logs') as typeof import('@opentelemetry/sdk-logs');
  const processors: import('@opentelemetry/sdk-logs').LogRecordProcessor[] = [];
  const batches: LogBatchProcessor[] = [];
  for (const name of selected(settings.logsExporter)) {
    if (name === 'console') {
      // Written at once (as the spec's console exporter with a simple processor): nothing waits at exit.
      processors.push({
        onEmit: (record) => writeRecords([record]),
        forceFlush: () => Promise.resolve(),
        shutdown: () => Promise.resolve(),
      });
    } else if (name === 'otlp') {
      const batch = new LogBatchProcessor(otlpSlot(settings), {
        scheduleDelay: settings.blrpScheduleDelay,
        exportTimeout: settings.blrpExportTimeout,
        maxQueueSize: settings.blrpMaxQueueSize,
        maxExportBatchSize: Math.min(settings.blrpMaxExportBatchSize, settings.blrpMaxQueueSize),
      });
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
export function registerLogs(settings: Settings, resource: Resource): LogsSdk {
  let real: { provider: LoggerProvider; batches: LogBatchProcessor[] } | null | undefined;
  const materialise = (): LoggerProvider | undefined => {
    if (real === undefined) {
      real = null;
      try {
        real = buildProvider(settings, resource);
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
