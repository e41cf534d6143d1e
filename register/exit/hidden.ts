// otel-run's own listeners on `process` ('exit' and the signals), kept out of the app's sight. Libraries
// decide from what they see: signal-exit (under write-file-atomic, proper-lockfile, ora, execa ≤ 8…)
// re-raises a signal only when its own listeners are the only ones, so a visible listener of ours made it
// assume the app handles the signal, and the app never ended. As tsx hides its relay, `listeners`,
// `rawListeners`, `listenerCount` and `eventNames` are shadowed on `process` to leave ours out; everything
// else (emit, removal, Node's own signal handle) sees the real list. Limit: `events.getEventListeners(process,
// …)` reads the emitter's internal table and still sees them.
import type { EventEmitter } from 'node:events';

type Listener = (...args: unknown[]) => void;

const OURS = Symbol.for('otel-run.hidden-listeners');

interface Proc extends NodeJS.Process {
  [OURS]?: Set<Listener>;
}

function ours(): Set<Listener> {
  const proc = process as Proc;
  let set = proc[OURS];
  if (set) return set;
  set = new Set();
  const hidden = set;
  // Non-enumerable, like the methods they shadow: `Object.keys(process)` stays as it was.
  Object.defineProperty(proc, OURS, { value: hidden, configurable: true });
  // Wraps whatever is there (tsx's preflight shadows the same methods to hide its relay: both stay hidden).
  type List = (this: unknown, event: string | symbol) => Function[];
  const prev = {
    listeners: proc.listeners as unknown as List,
    rawListeners: proc.rawListeners as unknown as List,
    listenerCount: proc.listenerCount as unknown as (
      this: unknown,
      e: string | symbol,
      l?: Listener,
    ) => number,
    eventNames: proc.eventNames as (this: unknown) => Array<string | symbol>,
  };
  const visible = (list: Function[]) => list.filter((l) => !hidden.has(l as Listener));
  const shadow = (name: string, fn: (...args: never[]) => unknown) =>
    Object.defineProperty(proc, name, { value: fn, writable: true, configurable: true, enumerable: false });
  shadow('listeners', function listeners(this: EventEmitter, event: string | symbol) {
    return visible(prev.listeners.call(this, event));
  });
  shadow('rawListeners', function rawListeners(this: EventEmitter, event: string | symbol) {
    return visible(prev.rawListeners.call(this, event));
  });
  shadow(
    'listenerCount',
    function listenerCount(this: EventEmitter, event: string | symbol, listener?: Listener) {
      if (listener) return hidden.has(listener) ? 0 : prev.listenerCount.call(this, event, listener);
      const all = prev.rawListeners.call(this, event);
      return prev.listenerCount.call(this, event) - (all.length - visible(all).length);
    },
  );
  shadow('eventNames', function eventNames(this: EventEmitter) {
    return prev.eventNames.call(this).filter((e) => visible(prev.rawListeners.call(this, e)).length > 0);
  });
  return set;
}

// Node closes a signal's handle when `process.listenerCount(signal)` drops to 0 as a listener is removed, and
// that count is the one we shadow: when the app's last listener goes (signal-exit unloads itself before it
// re-raises, a `once` listener ran), the signal would be back at its default action with ours still listed,
// and the next one would end the process without our flush. Our listener is added again right away, which
// opens a new handle. (The app's own 'newListener'/'removeListener' listeners, if any, see that happen.)
const ourSignalListeners = new Map<string, Listener>();
let rearming = false;
let rearmInstalled = false;
// Signals whose app listener was removed in this turn of the loop. A signal is emitted in a turn of its own,
// so one removed during it was there when the signal arrived: one that ran before ours (added with
// prependOnceListener) and removed itself still counts as the app's.
const removedThisTurn = new Set<string>();
function rearm(event: unknown, removed: unknown): void {
  if (rearming || typeof event !== 'string') return;
  const listener = ourSignalListeners.get(event);
  if (!listener || removed === listener) return;
  if (removedThisTurn.size === 0) process.nextTick(() => removedThisTurn.clear());
  removedThisTurn.add(event);
  if (appListenerCount(event) > 0) return;
  rearming = true;
  try {
    process.removeListener(event as 'exit', listener);
    process.prependListener(event as 'exit', listener);
  } finally {
    rearming = false;
  }
}

/** Adds a listener the app cannot see; a signal's goes ahead of the app's (decided before they run). */
export function listenHidden(event: string, listener: Listener): void {
  const hidden = ours();
  hidden.add(listener);
  if (!event.startsWith('SIG')) {
    process.on(event as 'exit', listener);
    return;
  }
  if (!rearmInstalled) {
    rearmInstalled = true;
    hidden.add(rearm as Listener);
    process.on('removeListener', rearm);
  }
  ourSignalListeners.set(event, listener);
  process.prependListener(event as 'exit', listener);
}

export function unlistenHidden(event: string, listener: Listener): void {
  if (ourSignalListeners.get(event) === listener) ourSignalListeners.delete(event);
  process.removeListener(event as 'exit', listener);
}

/** Whether the app listened for `signal` when it arrived (call from our listener, while it is emitted). */
export function appListened(signal: string): boolean {
  return appListenerCount(signal) > 0 || removedThisTurn.has(signal);
}

/** The app's own listeners for `event` (other libraries' included), ours left out. */
export function appListenerCount(event: string): number {
  ours();
  return process.rawListeners(event).length;
}
