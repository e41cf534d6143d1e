// The real contrib instrumentations through discovery: an express app, with
// @opentelemetry/instrumentation-http and -express found on NODE_PATH (the repo's devDependencies), under
// otel-run and under the reference (`node --require @opentelemetry/auto-instrumentations-node/register`),
// with the same requests. Both must produce the same spans: names, kinds, parent links, key attributes.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ReceivedSpan, type Receiver, startReceiver } from './helpers/otlp-receiver';
import { BIN, copyFixture, hermeticEnv, REPO_ROOT, type Started, start } from './helpers/run';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

/** Attributes compared between otel-run and the reference (both semantic-convention generations). */
const KEY_ATTRIBUTES = [
  'http.route',
  'http.method',
  'http.request.method',
  'http.status_code',
  'http.response.status_code',
  'http.target',
  'url.path',
  'http.scheme',
  'url.scheme',
  'net.peer.name',
  'server.address',
  'express.type',
  'express.name',
];

interface Shape {
  name: string;
  kind: number;
  scope: string;
  status: number;
  parent: string | null;
  attributes: Record<string, unknown>;
}

/** The spans of one request, each with its parent's name instead of ids, in a stable order. */
function shapes(spans: ReceivedSpan[]): Shape[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return spans
    .map((s) => ({
      name: s.name,
      kind: s.kind,
      scope: s.scope.name,
      status: s.status.code,
      parent: s.parentSpanId ? (byId.get(s.parentSpanId)?.name ?? '(missing parent)') : null,
      attributes: Object.fromEntries(
        KEY_ATTRIBUTES.filter((k) => s.attributes[k] !== undefined).map((k) => [k, s.attributes[k]]),
      ),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** One trace: the root SERVER span of GET /users/:id and everything under it. */
function traceOf(spans: ReceivedSpan[]): ReceivedSpan[] {
  const root = spans.find((s) => s.kind === SERVER && s.attributes['http.route'] === '/users/:id');
  return root ? spans.filter((s) => s.traceId === root.traceId) : [];
}

function complete(spans: ReceivedSpan[]): boolean {
  const trace = traceOf(spans);
  return (
    trace.some((s) => s.kind === CLIENT) &&
    trace.filter((s) => s.kind === SERVER).length === 2 &&
    trace.some((s) => s.name.startsWith('request handler - /users/:id'))
  );
}

interface Outcome {
  trace: ReceivedSpan[];
  body: { id: string; downstream: { traceparent: string | null } };
}

async function serveOnce(receiver: Receiver, args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  receiver.reset();
  const dir = await copyFixture('express-app');
  let server: Started | undefined;
  try {
    server = start(process.execPath, args, { cwd: dir, env, timeoutMs: 60_000 });
    const line = await server.waitForLine(/^listening \d+$/, 30_000);
    const port = Number(line.split(' ')[1]);
    const res = await fetch(`http://127.0.0.1:${port}/users/42`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Outcome['body'];
    const spans = await receiver.waitForSpans(complete, 20_000);
    return { trace: traceOf(spans), body };
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- stdout ---\n${server?.stdout()}\n--- stderr ---\n${server?.stderr()}`,
    );
  } finally {
    server?.killGroup();
    await server?.exited;
  }
}

function commonEnv(receiver: Receiver): NodeJS.ProcessEnv {
  return hermeticEnv({
    NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
    OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,express',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SERVICE_NAME: 'express-app',
    // The reference's default detectors include cloud ones that probe metadata addresses.
    OTEL_NODE_RESOURCE_DETECTORS: 'env,host,os,process',
  });
}

describe('real http and express instrumentations through discovery', { timeout: 120_000 }, () => {
  let receiver: Receiver;
  let ours: Outcome;
  before(async () => {
    receiver = await startReceiver();
    ours = await serveOnce(receiver, [BIN, process.execPath, 'server.js'], commonEnv(receiver));
  });
  after(() => receiver.close());

  test('SERVER and CLIENT spans with the right parentage, express spans, traceparent propagated', () => {
    const trace = ours.trace;
    const show = `\n${JSON.stringify(shapes(trace), null, 2)}`;
    const root = trace.find((s) => s.kind === SERVER && !s.parentSpanId);
    assert.ok(root, `no root SERVER span${show}`);
    assert.equal(root.name, 'GET /users/:id', show);
    assert.equal(root.scope.name, '@opentelemetry/instrumentation-http');

    const handler = trace.find((s) => s.name === 'request handler - /users/:id');
    assert.ok(handler, `no request handler span${show}`);
    assert.equal(handler.parentSpanId, root.spanId, show);
    assert.equal(handler.kind, INTERNAL);
    assert.equal(handler.attributes['express.type'], 'request_handler');
    assert.equal(handler.scope.name, '@opentelemetry/instrumentation-express');

    for (const name of ['middleware - query', 'middleware - expressInit', 'middleware - tag']) {
      const mw = trace.find((s) => s.name === name);
      assert.ok(mw, `no ${name} span${show}`);
      assert.equal(mw.parentSpanId, root.spanId, `${name}${show}`);
      assert.equal(mw.attributes['express.type'], 'middleware');
    }

    const client = trace.find((s) => s.kind === CLIENT);
    assert.ok(client, `no CLIENT span${show}`);
    assert.equal(client.parentSpanId, handler.spanId, `the outgoing call belongs to the handler${show}`);

    const downstream = trace.find((s) => s.kind === SERVER && s.parentSpanId === client.spanId);
    assert.ok(downstream, `no SERVER span under the CLIENT span${show}`);
    assert.equal(downstream.name, 'GET /downstream');

    assert.equal(ours.body.id, '42');
    assert.equal(ours.body.downstream.traceparent, `00-${root.traceId}-${client.spanId}-01`);
  });

  test('the same spans as node --require @opentelemetry/auto-instrumentations-node/register', async () => {
    const register = require.resolve('@opentelemetry/auto-instrumentations-node/register', {
      paths: [REPO_ROOT],
    });
    const reference = await serveOnce(receiver, ['--require', register, 'server.js'], commonEnv(receiver));
    assert.ok(reference.body.downstream.traceparent, 'the reference propagated no traceparent');
    const expected = shapes(reference.trace);
    assert.ok(expected.length >= 8, JSON.stringify(expected, null, 2));
    assert.deepEqual(shapes(ours.trace), expected);
  });
});
