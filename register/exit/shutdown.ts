// No span lost on any way out, and no change to how the app ends. Installed only once the SDK exists
// (a process that never made a span keeps Node's behaviour untouched).
//
// - Natural end: 'beforeExit' starts an async flush and holds the loop open with a timer of at most the
//   flush budget; the export sockets themselves never hold it (export/slots.ts), so a dead endpoint costs at
//   most the budget.
// - process.exit(), an uncaught exception, an unhandled rejection: Node emits 'exit' and then stops; no loop
//   turn is left, so whatever is pending is serialised and handed to a worker thread while the main thread
//   waits on Atomics.wait, with the remaining budget as deadline (export/send-sync.ts). process.exit itself is never
//   wrapped: the exit code and order of the app's own 'exit' listeners stay as they were.
// - SIGTERM / SIGINT: without otel-run, a signal with no listener kills the process at once. We listen, so
//   we must reproduce that: if the app has no listener of its own, flush synchronously, remove our listener
//   and re-raise the signal, so the parent sees the same death by signal. If the app listens, the exit is
//   the app's: we only start a flush, and 'exit' catches the rest. As PID 1 (a container) a re-raised
//   signal is ignored by the kernel, so we finish with exit(128 + n) instead.
//   A JavaScript signal listener runs only when the event loop is free: while synchronous code runs, the
//   signal waits (documented limit).
import { constants } from 'node:os';
import type { BatchProcessor } from '../export/batch-processor';
import { stopRetrying } from '../export/send';
import * as log from '../util/stderr';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

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
  for (const f of exitFlushes) {
    try {
      f.flushSync(why, remaining());
    } catch (err) {
      log.debug(`${why}: ${log.reason(err)}`);
    }
  }
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
    endingAll(why);
    for (const p of processors) {
      const spans = p.takePending();
      if (spans.length === 0) continue;
      log.debug(`${why}: sending ${spans.length} pending spans (${p.slot.label}) within ${remaining()} ms`);
      try {
        p.slot.exportSync(spans, remaining());
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

  let flushing = false;
  let renew = false;
  process.on('beforeExit', () => {
    if (flushing || flushedOnExit) return;
    endingAll('beforeExit');
    stopRetrying();
    const spansPending = processors.some((p) => p.hasPending());
    const others = exitFlushes.filter((f) => f.hasPending());
    if (!spansPending && others.length === 0) return;
    // The last flush ended in time and the app made spans since (its own beforeExit listener may start more
    // work): this end gets a whole budget again. Only the app's spans renew it, so it cannot loop.
    if (renew && spansPending) deadline = 0;
    renew = false;
    startClock();
    const left = remaining();
    if (left <= 0) return;
    flushing = true;
    const hold = setTimeout(() => {}, left);
    // A flush that fails must not become the app's unhandled rejection (which would end it with code 1).
    const settled = (flush: () => Promise<void>) =>
      Promise.resolve()
        .then(flush)
        .catch((err) => log.debug(`beforeExit: ${log.reason(err)}`));
    Promise.all([
      ...processors.map((p) => settled(() => p.forceFlush())),
      ...others.map((f) => settled(() => f.flush())),
    ]).then(() => {
      clearTimeout(hold);
      flushing = false;
      renew = true;
    });
  });

  process.on('exit', () => flushSync('exit'));

  for (const signal of SIGNALS) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) {
        // The app handles this signal: its handler decides if and how the process ends.
        for (const p of processors) p.forceFlush().catch(() => {});
        for (const f of exitFlushes) f.flush().catch(() => {});
        return;
      }
      flushSync(signal);
      process.removeListener(signal, onSignal);
      if (process.pid === 1) process.exit(128 + (constants.signals[signal] ?? 0));
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
