// No span lost on any way out, and no change to how the app ends. Installed only once the SDK exists
// (a process that never made a span keeps Node's behaviour untouched).
//
// - Natural end: 'beforeExit' starts an async flush and holds the loop open with a timer of at most the
//   flush budget; the export sockets themselves never hold it (exporters.ts), so a dead endpoint costs at
//   most the budget.
// - process.exit(), an uncaught exception, an unhandled rejection: Node emits 'exit' and then stops; no loop
//   turn is left, so whatever is pending is serialised and handed to a worker thread while the main thread
//   waits on Atomics.wait, with the remaining budget as deadline (post-sync.ts). process.exit itself is never
//   wrapped: the exit code and order of the app's own 'exit' listeners stay as they were.
// - SIGTERM / SIGINT: without otel-run, a signal with no listener kills the process at once. We listen, so
//   we must reproduce that: if the app has no listener of its own, flush synchronously, remove our listener
//   and re-raise the signal, so the parent sees the same death by signal. If the app listens, the exit is
//   the app's: we only start a flush, and 'exit' catches the rest. As PID 1 (a container) a re-raised
//   signal is ignored by the kernel, so we finish with exit(128 + n) instead.
//   A JavaScript signal listener runs only when the event loop is free: while synchronous code runs, the
//   signal waits (documented limit).
import { constants } from 'node:os';
import * as log from './log';
import type { BatchProcessor } from './processor';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

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
    const dropped = processors.reduce((n, p) => n + p.dropped, 0);
    if (dropped) log.debug(`${dropped} spans were dropped because the queue was full`);
  };

  let flushing = false;
  process.on('beforeExit', () => {
    if (flushing || flushedOnExit || !processors.some((p) => p.hasPending())) return;
    startClock();
    const left = remaining();
    if (left <= 0) return;
    flushing = true;
    const hold = setTimeout(() => {}, left);
    Promise.all(processors.map((p) => p.forceFlush())).finally(() => {
      clearTimeout(hold);
      flushing = false;
    });
  });

  process.on('exit', () => flushSync('exit'));

  for (const signal of SIGNALS) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) {
        // The app handles this signal: its handler decides if and how the process ends.
        for (const p of processors) p.forceFlush().catch(() => {});
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
