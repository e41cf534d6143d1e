// Everything otel-run says inside a user's process goes through here: one line per problem, on stderr
// (never stdout, which belongs to the app), each distinct message once per process.
//
// Written to file descriptor 2 directly, never through process.stderr: a stream whose reader went away
// (a daemon's log pipe closed) fails with EPIPE as an 'error' event, and with no listener that is an uncaught
// exception in the app, which ended a healthy app with code 1 because of our warning. writeSync throws
// instead, and the line is dropped. Node makes stdio pipes and files blocking, so the lines keep their order
// with the app's own writes.
import * as fs from 'node:fs';

export type Level = 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';

const ORDER: Record<Level, number> = { none: 0, error: 1, warn: 2, info: 3, debug: 4, verbose: 5, all: 6 };

let threshold = ORDER.warn;
const said = new Set<string>();

/** Sets the level from OTEL_LOG_LEVEL (already validated by the settings parser). */
export function setLevel(level: Level): void {
  threshold = ORDER[level];
}

export function isEnabled(level: Level): boolean {
  return ORDER[level] <= threshold;
}

function write(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  writeStderr(`otel-run: ${line}\n`);
}

/** Writes to fd 2 and never fails: stderr closed or broken, there is nowhere left to say it. */
export function writeStderr(text: string): void {
  try {
    const bytes = Buffer.from(text, 'utf8');
    let at = 0;
    while (at < bytes.length) at += fs.writeSync(2, bytes, at);
  } catch {
    // EPIPE, EBADF, EAGAIN: dropped, and the app must not notice.
  }
}

/** `<what failed>: <why> — <what happens instead>` */
export function warn(line: string): void {
  if (threshold >= ORDER.warn) write(line);
}

// One dead collector fails every export of every signal: the first failure per endpoint is the warning, the
// rest go to debug, so a script run without a collector gets one line, not one per batch and signal.
const failedEndpoints = new Set<string>();

/** A failed export, worded as warn's lines; only the first one per endpoint (scheme://host:port) is shown. */
export function warnExport(line: string): void {
  const endpoint = /\b[a-z][a-z0-9+.-]*:\/\/[^/\s)]+/i.exec(line)?.[0] ?? line;
  if (failedEndpoints.has(endpoint)) {
    debug(line);
    return;
  }
  failedEndpoints.add(endpoint);
  warn(line);
}

export function info(line: string): void {
  if (threshold >= ORDER.info) write(line);
}

export function debug(line: string): void {
  if (threshold >= ORDER.debug) write(`[debug] ${line}`);
}

/** The reason an error gives, in one line: stack traces only under debug. */
export function reason(err: unknown): string {
  if (err instanceof Error) {
    if (threshold >= ORDER.debug && err.stack) debug(err.stack);
    return err.message.split('\n')[0] ?? String(err);
  }
  return String(err);
}
