// Sends one serialised OTLP request (spans, metrics, log records) without ever holding the app open: sockets
// come from an unref'd keep-alive agent and every timer is unref'd. The official exporters' retry and timeout
// timers are ref'd, and with a collector that refuses or never answers they kept an ending
// process alive for the whole OTLP timeout (10 s by default; measured 8.5-10.4 s where spans cost at most
// OTEL_RUN_FLUSH_TIMEOUT, 3.4 s). Retries follow the OTLP spec: 429, 502, 503, 504 and connection errors,
// with exponential backoff until the request's deadline. Every request is answered once; nothing throws.
import type { Agent } from 'node:http';
import { RETRYABLE_STATUS, type SyncOutcome, type SyncRequest } from './send-sync';
import { readTls } from './tls';

const MAX_ATTEMPTS = 5;

interface Attempt {
  status?: number;
  error?: string;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
}

/**
 * Export requests must not keep the app alive: a short script ends when its own work ends, as without
 * otel-run, and the exit path (beforeExit flush or the synchronous hand-off) takes care of what is pending.
 * Node's keep-alive agent refs a socket again when it reuses it (Agent#reuseSocket), so both are covered.
 */
function unrefAgent(protocol: string): Agent {
  const mod = (
    protocol === 'https:' ? require('node:https') : require('node:http')
  ) as typeof import('node:http');
  const agent = new mod.Agent({ keepAlive: true });
  const create = agent.createConnection.bind(agent) as (
    ...a: unknown[]
  ) => import('node:net').Socket | undefined;
  (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = (
    ...args: unknown[]
  ) => {
    const socket = create(...args);
    socket?.unref?.();
    return socket;
  };
  const agentWithReuse = agent as unknown as {
    reuseSocket: (socket: import('node:net').Socket, req: unknown) => void;
  };
  const reuse = agentWithReuse.reuseSocket.bind(agent);
  agentWithReuse.reuseSocket = (socket, req) => {
    reuse(socket, req);
    socket.unref();
  };
  return agent;
}

const agents = new Map<string, Agent>();

function agentFor(protocol: string): Agent {
  let agent = agents.get(protocol);
  if (!agent) {
    agent = unrefAgent(protocol);
    agents.set(protocol, agent);
  }
  return agent;
}

function attempt(
  req: SyncRequest,
  left: number,
  done: (a: Attempt) => void,
  written?: (whole: boolean) => void,
): void {
  let finished = false;
  const finish = (a: Attempt) => {
    if (finished) return;
    finished = true;
    done(a);
  };
  try {
    const u = new URL(req.url);
    const mod = (
      u.protocol === 'https:' ? require('node:https') : require('node:http')
    ) as typeof import('node:http');
    const options: import('node:https').RequestOptions = {
      method: 'POST',
      headers: { ...req.headers, 'content-length': req.body.byteLength },
      agent: agentFor(u.protocol),
      // A socket timeout: unref'd, like the socket.
      timeout: left,
      ...(req.tls ? readTls(req.tls) : {}),
    };
    let deadline: NodeJS.Timeout | undefined;
    const settle = (a: Attempt) => {
      clearTimeout(deadline);
      finish(a);
    };
    const r = mod.request(u, options, (res) => {
      res.resume();
      res.on('end', () => settle({ status: res.statusCode ?? 0 }));
      res.on('error', (err) => settle({ error: reasonOf(err) }));
      res.on('aborted', () => settle({ error: 'answer cut short' }));
    });
    // The address this export reached, for the exit path, which must not look it up again (send-sync.ts).
    r.on('socket', (socket) => {
      socket.once('connect', () => {
        if (socket.remoteAddress)
          (require('./send-sync') as typeof import('./send-sync')).rememberAddress(
            u.hostname,
            socket.remoteAddress,
            socket.remoteFamily === 'IPv6' ? 6 : 4,
          );
      });
    });
    // 'finish': the whole request was handed to the kernel, which delivers it even if the process ends now.
    if (written) r.on('finish', () => written(true));
    r.on('timeout', () => r.destroy(new Error(`no answer within ${left} ms`)));
    r.on('error', (err) => settle({ error: reasonOf(err) }));
    // The socket timeout above only fires when the socket is idle: a collector that trickles its answer a
    // byte at a time never lets it, and each export would keep its socket for good. This one ends the
    // request at its deadline, whatever arrives (unref'd: it never holds the app open).
    deadline = setTimeout(() => r.destroy(new Error(`no complete answer within ${left} ms`)), left);
    deadline.unref();
    r.end(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength));
  } catch (err) {
    finish({ error: reasonOf(err) });
  }
}

// Once the process is ending (exit/shutdown.ts calls stopRetrying on the way out), a request that could not connect
// is not tried again: a collector that is not there will not appear within the exit budget, and every retry
// would only hold an ending script open (measured: 3.1 s for a 60 ms script with no collector running). A
// collector that answers 429/502/503/504 is there and asked us to come back: that retry still happens,
// within the budget.
let ending = false;
/** Retries waiting after a connection error: given up at once when the process ends. */
const pendingReconnects = new Set<() => void>();

export function stopRetrying(): void {
  ending = true;
  for (const giveUp of [...pendingReconnects]) giveUp();
}

/**
 * Requests waiting for an answer at once, across every signal: each holds a socket and its batch. A collector
 * that answers slower than the export schedule would otherwise pile them up without bound; past this, an
 * export fails at once (its batch is dropped, with the exporter's warning) until one of them ends.
 */
export const MAX_IN_FLIGHT = 8;
let inFlight = 0;

/**
 * Posts one request, retrying within `timeoutMs`; resolves with the outcome (never rejects). `written` hears
 * when an attempt's request has left whole, and that a failed attempt's has to go again.
 */
export function postAsync(
  req: SyncRequest,
  timeoutMs: number,
  written?: (whole: boolean) => void,
): Promise<SyncOutcome> {
  if (inFlight >= MAX_IN_FLIGHT)
    return Promise.resolve({
      ok: false,
      reason: `${MAX_IN_FLIGHT} earlier exports are still waiting for the collector to answer`,
    });
  inFlight++;
  return postWithRetries(req, timeoutMs, written).finally(() => {
    inFlight--;
  });
}

function postWithRetries(
  req: SyncRequest,
  timeoutMs: number,
  written?: (whole: boolean) => void,
): Promise<SyncOutcome> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    let backoff = 1000;
    let tries = 0;
    const go = () => {
      const left = deadline - Date.now();
      if (left <= 0) {
        resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` });
        return;
      }
      attempt(
        req,
        left,
        (a) => {
          tries++;
          if (a.status !== undefined && a.status >= 200 && a.status < 300) {
            resolve({ ok: true, status: a.status });
            return;
          }
          written?.(false);
          const reason = a.status ? `HTTP ${a.status}` : (a.error ?? 'failed');
          const wait = backoff * (0.8 + Math.random() * 0.4);
          const retryable = a.error !== undefined || RETRYABLE_STATUS.has(a.status ?? 0);
          const unreachable = a.error !== undefined;
          if (retryable && !(ending && unreachable) && tries < MAX_ATTEMPTS && Date.now() + wait < deadline) {
            backoff *= 1.5;
            const giveUp = () => {
              clearTimeout(timer);
              pendingReconnects.delete(giveUp);
              resolve({ ok: false, reason });
            };
            const timer = setTimeout(() => {
              pendingReconnects.delete(giveUp);
              go();
            }, wait);
            timer.unref();
            if (unreachable) pendingReconnects.add(giveUp);
            return;
          }
          resolve({ ok: false, reason });
        },
        written,
      );
    };
    go();
  });
}
