// Sends one HTTP request while the main thread is blocked, for the moments when no event loop turn is left:
// inside process.on('exit') (after process.exit(), an uncaught exception) and before re-raising a signal.
// A worker thread does the I/O; the main thread waits on Atomics.wait with a deadline, so a slow or dead
// endpoint costs at most the deadline. Measured here (Node 20, 2 cores): a batch posts in ~25 ms.
import type { Worker as WorkerType } from 'node:worker_threads';
import { readTls, type TlsFiles } from './tls';

/** One OTLP request, serialised (export/otlp.ts builds it); sent by export/send.ts or, at exit, here. */
export interface SyncRequest {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** PEM file paths for https endpoints. */
  tls?: TlsFiles;
}

/** `unanswered`: the request went out but no answer came in time (it may have arrived). */
export type SyncOutcome =
  | { ok: true; status: number }
  | { ok: false; reason: string; status?: number; unanswered?: boolean };

// Plain JavaScript evaluated in the worker: it must not depend on otel-run's build layout, and it runs with
// no preload (execArgv: []) so otel-run never instruments its own sender.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { url, headers, body, tls, state, address } = workerData;
const flag = new Int32Array(state, 0, 2);
const text = new Uint8Array(state, 8);
function done(code, status, reason) {
  if (reason) {
    const bytes = Buffer.from(String(reason).split('\\n')[0], 'utf8').subarray(0, text.length);
    text.set(bytes);
  }
  Atomics.store(flag, 1, status);
  Atomics.store(flag, 0, code);
  Atomics.notify(flag, 0);
}
try {
  const u = new URL(url);
  const mod = require(u.protocol === 'https:' ? 'node:https' : 'node:http');
  const options = { method: 'POST', headers: { ...headers, 'content-length': body.byteLength }, ...tls };
  // Connect to the address known already: a lookup would queue behind a busy libuv thread pool.
  if (address)
    options.lookup = (host, opts, cb) =>
      opts && opts.all ? cb(null, [address]) : cb(null, address.address, address.family);
  const req = mod.request(u, options, (res) => {
    res.resume();
    res.on('end', () => done(1, res.statusCode || 0));
    res.on('error', (err) => done(2, res.statusCode || 0, err && err.message));
  });
  req.on('error', (err) => done(2, 0, err && err.message));
  req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
} catch (err) {
  done(2, 0, err && err.message);
}
`;

interface Address {
  address: string;
  family: number;
}

/** Each endpoint host's address, as the last asynchronous export found it (export/send.ts). */
const addresses = new Map<string, Address>();

export function rememberAddress(host: string, address: string, family: number): void {
  addresses.set(host, { address, family });
}

/**
 * Where the exit path connects without a DNS lookup. getaddrinfo runs on libuv's thread pool, which the worker
 * shares with the app: an app that ends (or crashes) while its pool is busy (fs, crypto, zlib) would hold the
 * lookup past the flush budget, and every span would be lost. So: the address an earlier export used; for
 * `localhost` (the default endpoint) with no export yet, 127.0.0.1; an IP needs none; any other name is
 * looked up in the worker.
 */
function knownAddress(url: string): Address | undefined {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  const known = addresses.get(host);
  if (known) return known;
  if (host === 'localhost') return { address: '127.0.0.1', family: 4 };
  return undefined;
}

/** Room for the worker's one-line reason (an error message: host and port, never headers). */
const REASON_BYTES = 240;

/** Statuses the OTLP spec says to retry: the collector is there and asked us to come back. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Whether this process may start the worker the synchronous send needs: Node's permission model
 * (`--permission`, `--experimental-permission` on Node 20) refuses workers without --allow-worker. Without
 * one, every slot is asynchronous-only (exit/shutdown.ts flushes it at beforeExit).
 */
export function canSendSync(): boolean {
  const permission = (process as unknown as { permission?: { has(scope: string): boolean } }).permission;
  try {
    return !permission || permission.has('worker');
  } catch {
    return true;
  }
}

/**
 * Posts within `timeoutMs`, retrying a retryable status while time is left: with no loop turn left, the
 * exit path is the last chance (an asynchronous flush in 'beforeExit' used to retry, and gave the app an
 * extra turn of the event loop to do it).
 */
export function postSync(request: SyncRequest, timeoutMs: number): SyncOutcome {
  const deadline = Date.now() + timeoutMs;
  let backoff = 100;
  for (;;) {
    const outcome = postOnce(request, deadline - Date.now());
    if (outcome.ok || !RETRYABLE_STATUS.has(outcome.status ?? 0)) return outcome;
    if (Date.now() + backoff >= deadline) return outcome;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, backoff);
    backoff *= 2;
  }
}

function postOnce(request: SyncRequest, timeoutMs: number): SyncOutcome {
  if (timeoutMs <= 0) return { ok: false, reason: 'the flush time (OTEL_RUN_FLUSH_TIMEOUT) was used up' };
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const state = new SharedArrayBuffer(8 + REASON_BYTES);
  const flag = new Int32Array(state, 0, 2);
  let worker: WorkerType;
  try {
    // Read here, with the one reader every request uses (cached since the first export): the worker gets the
    // contents, whose buffers arrive as Uint8Arrays, which node:https takes as they are.
    const tls = request.tls ? readTls(request.tls) : undefined;
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
      workerData: {
        url: request.url,
        headers: request.headers,
        body: request.body,
        tls,
        state,
        address: knownAddress(request.url),
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'ERR_ACCESS_DENIED')
      return {
        ok: false,
        reason:
          "Node's permission model is on without --allow-worker, and sending at exit needs a worker thread (add --allow-worker; an app that ends on its own still sends)",
      };
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  worker.unref();
  const result = Atomics.wait(flag, 0, 0, timeoutMs);
  const code = Atomics.load(flag, 0);
  // The worker is left to die with the process; terminating it here would block on its teardown.
  if (result === 'timed-out' && code === 0)
    return { ok: false, reason: `no answer within ${timeoutMs} ms`, unanswered: true };
  const status = Atomics.load(flag, 1);
  if (code === 1 && status >= 200 && status < 300) return { ok: true, status };
  if (status) return { ok: false, reason: `HTTP ${status}`, status };
  const bytes = new Uint8Array(state, 8);
  const end = bytes.indexOf(0);
  // Copied out: TextDecoder refuses views of shared memory.
  const said = Buffer.from(bytes.slice(0, end === -1 ? bytes.length : end)).toString('utf8');
  return { ok: false, reason: said || 'connection failed' };
}
