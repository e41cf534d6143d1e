// Sends one serialised OTLP request (metrics, log records) without ever holding the app open: sockets come
// from an unref'd keep-alive agent (export/slots.ts) and every timer is unref'd. The official exporters' retry
// and timeout timers are ref'd, and with a collector that refuses or never answers they kept an ending
// process alive for the whole OTLP timeout (10 s by default; measured 8.5-10.4 s where spans cost at most
// OTEL_RUN_FLUSH_TIMEOUT, 3.4 s). Retries follow the OTLP spec: 429, 502, 503, 504 and connection errors,
// with exponential backoff until the request's deadline. Every request is answered once; nothing throws.
import * as fs from 'node:fs';
import type { Agent } from 'node:http';
import { RETRYABLE_STATUS, type SyncOutcome, type SyncRequest } from './send-sync';

const MAX_ATTEMPTS = 5;

interface Attempt {
  status?: number;
  error?: string;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
}

const agents = new Map<string, Agent>();
const files = new Map<string, Buffer>();

function agentFor(protocol: string): Agent {
  let agent = agents.get(protocol);
  if (!agent) {
    const { unrefAgent } = require('./slots') as typeof import('./slots');
    agent = unrefAgent(protocol);
    agents.set(protocol, agent);
  }
  return agent;
}

function file(p: string | undefined): Buffer | undefined {
  if (!p) return undefined;
  let b = files.get(p);
  if (!b) {
    b = fs.readFileSync(p);
    files.set(p, b);
  }
  return b;
}

function attempt(req: SyncRequest, left: number, done: (a: Attempt) => void): void {
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
      ca: file(req.ca),
      cert: file(req.cert),
      key: file(req.key),
    };
    const r = mod.request(u, options, (res) => {
      res.resume();
      res.on('end', () => finish({ status: res.statusCode ?? 0 }));
      res.on('error', (err) => finish({ error: reasonOf(err) }));
    });
    r.on('timeout', () => r.destroy(new Error(`no answer within ${left} ms`)));
    r.on('error', (err) => finish({ error: reasonOf(err) }));
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

/** Posts one request, retrying within `timeoutMs`; resolves with the outcome (never rejects). */
export function postAsync(req: SyncRequest, timeoutMs: number): Promise<SyncOutcome> {
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
      attempt(req, left, (a) => {
        tries++;
        if (a.status !== undefined && a.status >= 200 && a.status < 300) {
          resolve({ ok: true, status: a.status });
          return;
        }
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
      });
    };
    go();
  });
}
