// No span lost on any way out, and no change to how the app ends. Installed only once the SDK exists
// (a process that never made a span keeps Node's behaviour untouched).
//
// Every way out ends in 'exit' (natural end, process.exit(), an uncaught exception, an unhandled
// rejection): Node emits it and then stops; no loop turn is left, so whatever is pending is serialised and
// handed to a worker thread while the main thread waits on Atomics.wait, with the flush budget as deadline
// (export/send-sync.ts). Nothing is flushed asynchronously on the way out: an async flush in 'beforeExit'
// held the loop open, so Node emitted 'beforeExit' to the app's listeners a second time and the app's
// unref'd timers fired (pg's pool.end() in beforeExit then failed with "Called end on pool more than once").
// The one exception: an exporter with no synchronous path (grpc, zipkin, or any exporter under Node's
// permission model without --allow-worker) cannot deliver at 'exit', so when one has spans pending at
// 'beforeExit' they are sent asynchronously there, and only there; that costs the
// app the extra loop turn, which beats losing the spans (docs/faults.md).
// process.exit itself is never wrapped: the exit code and order of the app's own 'exit' listeners stay as
// they were. Our 'exit' listener is hidden from the app (exit/hidden.ts).
//
// Signals that end the process by default are in exit/signals.ts; here is what they flush.
import type { BatchProcessor } from '../export/batch-processor';
import { stopRetrying } from '../export/send';
import { canSendSync } from '../export/send-sync';
import * as log from '../util/stderr';
import { listenHidden } from './hidden';
import { watchSignals } from './signals';

// --- Other signals (metrics, log records, the process span) leave by the same paths as spans. ---
export interface ExitFlush {
  /** First, on every way out and before spans are taken (ends the process span). */
  ending?(why: string): void;
  hasPending(): boolean;
  flush(): Promise<void>;
  /** Delivers what is pending before returning, within `timeoutMs` (the exit and signal paths). */
  flushSync(why: string, timeoutMs: number): void;
}
const exitFlushes: ExitFlush[] = [];
export function registerExitFlush(flush: ExitFlush): void {
  exitFlushes.push(flush);
}
function endingAll(why: string): void {
  for (const f of exitFlushes) {
    try {
      f.ending?.(why);
    } catch (err) {
      log.debug(`${why}: ${log.reason(err)}`);
    }
  }
}
function flushOthersSync(why: string, remaining: () => number): void {
  const pending = exitFlushes.filter((f) => f.hasPending());
  pending.forEach((f, i) => {
    try {
      f.flushSync(why, budgetFor(remaining(), pending.length - 1 - i));
    } catch (err) {
      log.debug(`${why}: ${log.reason(err)}`);
    }
  });
}

/**
 * What one synchronous send may wait, leaving each send still to come the time to get its request out: the
 * sends run one after the other, and a collector that never answers would otherwise give the whole budget
 * to the first (spans) and none to metrics and log records, which then never left at all.
 */
const RESERVED_PER_SEND_MS = 150;
function budgetFor(remaining: number, sendsAfter: number): number {
  return Math.max(Math.min(remaining, RESERVED_PER_SEND_MS), remaining - RESERVED_PER_SEND_MS * sendsAfter);
}
// --- end of the metrics/logs hook ---

export function installShutdown(processors: BatchProcessor[], budgetMs: number): void {
  let deadline = 0;
  let flushedOnExit = false;
  const remaining = () => (deadline ? Math.max(0, deadline - Date.now()) : budgetMs);
  const startClock = () => {
    if (!deadline) deadline = Date.now() + budgetMs;
  };

  const flushSync = (why: string) => {
    if (flushedOnExit) return;
    flushedOnExit = true;
    startClock();
    stopRetrying();
    endingAll(why);
    const othersPending = exitFlushes.filter((f) => f.hasPending()).length;
    for (const p of processors) {
      const spans = p.takePending(why !== 'exit');
      if (spans.length === 0) continue;
      const budget = budgetFor(remaining(), othersPending);
      log.debug(`${why}: sending ${spans.length} pending spans (${p.slot.label}) within ${budget} ms`);
      try {
        p.slot.exportSync(spans, budget);
      } catch (err) {
        log.warn(`sending the last spans (${p.slot.label}) failed: ${log.reason(err)} — they are lost`);
      }
    }
    // An exporter that holds spans itself (the terminal view's traces waiting for their root) prints now.
    for (const p of processors) p.slot.flushHeld?.();
    flushOthersSync(why, remaining);
    const dropped = processors.reduce((n, p) => n + p.dropped, 0);
    if (dropped) log.debug(`${dropped} spans were dropped because the queue was full`);
  };

  listenHidden('exit', () => flushSync('exit'));

  const asyncOnly = canSendSync() ? processors.filter((p) => !p.slot.synchronous) : processors;
  if (asyncOnly.length) {
    let flushing = false;
    listenHidden('beforeExit', () => {
      if (flushing || !asyncOnly.some((p) => p.hasPending())) return;
      flushing = true;
      const done = () => {
        flushing = false;
      };
      Promise.all(asyncOnly.map((p) => p.forceFlush().catch(() => {}))).then(done, done);
    });
  }

  watchSignals({
    beforeDeath: (signal) => flushSync(signal),
    appHandles: () => {
      // The app's listener decides if and how the process ends; what it does not send, 'exit' will.
      for (const p of processors) p.forceFlush().catch(() => {});
      for (const f of exitFlushes) f.flush().catch(() => {});
    },
  });
}
