// OTEL_TRACES_EXPORTER=pretty (`otel-run --view`): each finished trace as an indented tree on stderr, so a
// newcomer sees what is traced without a backend. Spans of one trace end at different times and reach the
// exporter in different batches, so they are held per trace and printed as a tree:
// - at once when the trace's root (a span with no parent at all) arrives: its children ended before it;
// - after a short quiet period otherwise (a server span whose parent is in another process, or children that
//   end after their root): nothing says whether more is coming, so we wait a little;
// - at exit, whatever is still held (the synchronous exit path calls `flushHeld`).
// Colour only when stderr is a terminal and NO_COLOR is unset; stdout is never touched (it is the app's).
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createSlot, type Slot } from './slot';

/** How long a trace without its root waits for more spans before it is printed as it is. */
const QUIET_MS = 500;
/** Batches for the view leave at least this often (a terminal view waiting 5 s is no view). */
const MAX_DELAY_MS = 100;
const STATEMENT_MAX = 100;
const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_ERROR = 2;

/** Attributes worth a glance, in display order: label, then the semconv names (new first, then old). */
const KEY_ATTRIBUTES: ReadonlyArray<readonly [string, ...string[]]> = [
  ['method', 'http.request.method', 'http.method'],
  ['route', 'http.route'],
  ['url', 'url.full', 'http.url'],
  ['path', 'url.path', 'http.target'],
  ['status', 'http.response.status_code', 'http.status_code'],
  ['db', 'db.system.name', 'db.system'],
  ['op', 'db.operation.name', 'db.operation'],
  ['collection', 'db.collection.name', 'db.mongodb.collection'],
  ['statement', 'db.query.text', 'db.statement'],
  ['rpc', 'rpc.system'],
  ['service', 'rpc.service'],
  ['rpc.method', 'rpc.method'],
  ['grpc.status', 'rpc.grpc.status_code'],
  ['messaging', 'messaging.system'],
  ['destination', 'messaging.destination.name', 'messaging.destination'],
  ['graphql', 'graphql.operation.name'],
  ['error', 'error.type'],
];

interface Style {
  name(s: string): string;
  dim(s: string): string;
  error(s: string): string;
  slow(s: string): string;
  attr(s: string): string;
}

const PLAIN: Style = { name: (s) => s, dim: (s) => s, error: (s) => s, slow: (s) => s, attr: (s) => s };
const ansi = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
const COLOUR: Style = {
  name: ansi(1, 22),
  dim: ansi(2, 22),
  error: ansi(31, 39),
  slow: ansi(33, 39),
  attr: ansi(36, 39),
};

/**
 * Colour only on a terminal (https://no-color.org and FORCE_COLOR=0 turn it off there): stderr that goes to a
 * file, a pipe or a log collector gets plain text, whatever FORCE_COLOR a CI sets for the app's own tools.
 */
export function wantsColour(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!isTTY || env.NO_COLOR || env.TERM === 'dumb') return false;
  return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
}

/**
 * Span names and attribute values come from the app's input (a request path, a query): control characters in
 * them would reach the terminal as escape sequences (moving the cursor, rewriting earlier lines, setting the
 * title). Each is shown as a visible escape instead.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function millis(span: ReadableSpan): number {
  return span.duration[0] * 1e3 + span.duration[1] / 1e6;
}

function startNanos(span: ReadableSpan): bigint {
  return BigInt(span.startTime[0]) * 1_000_000_000n + BigInt(span.startTime[1]);
}

function endNanos(span: ReadableSpan): bigint {
  return BigInt(span.endTime[0]) * 1_000_000_000n + BigInt(span.endTime[1]);
}

export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

function showValue(label: string, value: unknown): string {
  let text = Array.isArray(value) ? value.join(',') : String(value);
  if (label === 'statement') {
    text = text.replace(/\s+/g, ' ').trim();
    if (text.length > STATEMENT_MAX) text = `${text.slice(0, STATEMENT_MAX - 1)}…`;
  }
  return /[\s"]/.test(text) || text === '' ? printable(JSON.stringify(text)) : printable(text);
}

function keyAttributes(span: ReadableSpan): string[] {
  const out: string[] = [];
  const a = span.attributes;
  for (const [label, ...names] of KEY_ATTRIBUTES) {
    const name = names.find((n) => a[n] !== undefined);
    if (name === undefined) continue;
    // A route says more than the raw path; the path only when there is no route.
    if (label === 'path' && (a['http.route'] !== undefined || a['url.full'] !== undefined)) continue;
    out.push(`${label}=${showValue(label, a[name])}`);
  }
  return out;
}

function errorText(span: ReadableSpan): string | undefined {
  if (span.status.code !== STATUS_ERROR) return undefined;
  const exception = span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'];
  const message = span.status.message || (exception === undefined ? '' : String(exception));
  return message ? `ERROR: ${printable(message.split('\n')[0] ?? '')}` : 'ERROR';
}

interface Node {
  span: ReadableSpan;
  children: Node[];
}

const byStart = (a: Node, b: Node) => {
  const d = startNanos(a.span) - startNanos(b.span);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

/** The tree of one trace's spans: roots are spans whose parent is not among them. */
function buildTree(spans: ReadableSpan[]): Node[] {
  const nodes = new Map<string, Node>();
  for (const span of spans) nodes.set(span.spanContext().spanId, { span, children: [] });
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanContext?.spanId;
    const parentNode = parent ? nodes.get(parent) : undefined;
    if (parentNode && parentNode !== node) parentNode.children.push(node);
    else roots.push(node);
  }
  for (const node of nodes.values()) node.children.sort(byStart);
  return roots.sort(byStart);
}

/** Renders one trace; exported for tests of the layout. */
export function renderTrace(spans: ReadableSpan[], style: Style = PLAIN, continued = false): string {
  const first = spans[0];
  if (!first) return '';
  const roots = buildTree(spans);
  const rows: { prefix: string; node: Node }[] = [];
  const walk = (node: Node, prefix: string, childPrefix: string) => {
    rows.push({ prefix, node });
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1;
      walk(child, childPrefix + (last ? '└─ ' : '├─ '), childPrefix + (last ? '   ' : '│  '));
    });
  };
  for (const root of roots) walk(root, '', '');

  let min = startNanos(first);
  let max = endNanos(first);
  for (const s of spans) {
    if (startNanos(s) < min) min = startNanos(s);
    if (endNanos(s) > max) max = endNanos(s);
  }
  const service = first.resource.attributes['service.name'];
  const header = [
    `trace ${first.spanContext().traceId}${continued ? ' (continued)' : ''}`,
    service === undefined ? undefined : printable(String(service)),
    `${spans.length} span${spans.length === 1 ? '' : 's'}`,
    formatDuration(Number(max - min) / 1e6),
  ]
    .filter((s) => s !== undefined)
    .join(' · ');

  const names = new Map(rows.map((r) => [r.node, printable(r.node.span.name)]));
  const width = Math.min(
    60,
    Math.max(...rows.map((r) => r.prefix.length + (names.get(r.node) ?? '').length)),
  );
  const lines = [style.dim(header)];
  for (const { prefix, node } of rows) {
    const span = node.span;
    const name = names.get(node) ?? '';
    const label = prefix + name;
    const ms = millis(span);
    const parts = [
      `${style.dim(prefix)}${style.name(name)}${' '.repeat(Math.max(0, width - label.length))}`,
      style.dim((KINDS[span.kind] ?? 'internal').padEnd(8)),
      (ms >= 1000 ? style.slow : (s: string) => s)(formatDuration(ms).padStart(9)),
    ];
    const error = errorText(span);
    if (error) parts.push(style.error(error));
    const attributes = keyAttributes(span);
    if (attributes.length) parts.push(style.attr(attributes.join(' ')));
    const parent = span.parentSpanContext;
    if (prefix === '' && parent && !parent.isRemote && !continued)
      parts.push(style.dim('(parent not ended)'));
    lines.push(parts.join('  ').trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

const SUCCESS = 0;

/** Holds spans per trace and prints each trace once it is complete (see the top of this file). */
export class PrettyExporter implements SpanExporter {
  private readonly held = new Map<string, { spans: ReadableSpan[]; timer?: NodeJS.Timeout }>();
  /** Traces already printed, so late spans are labelled as a continuation (bounded). */
  private readonly printed = new Set<string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly style: Style,
  ) {}

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    try {
      this.add(spans);
    } catch {
      // A view must never break the app: a span it cannot render is left out.
    }
    done({ code: SUCCESS });
  }

  add(spans: ReadableSpan[]): void {
    const touched = new Set<string>();
    for (const span of spans) {
      const traceId = span.spanContext().traceId;
      let entry = this.held.get(traceId);
      if (!entry) {
        entry = { spans: [] };
        this.held.set(traceId, entry);
      }
      entry.spans.push(span);
      touched.add(traceId);
    }
    for (const traceId of touched) {
      const entry = this.held.get(traceId);
      if (!entry) continue;
      if (entry.spans.some((s) => !s.parentSpanContext)) {
        this.print(traceId);
        continue;
      }
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = setTimeout(() => this.print(traceId), QUIET_MS);
      // Never keeps the app alive: at exit, flushHeld prints what is left.
      entry.timer.unref();
    }
  }

  private print(traceId: string): void {
    const entry = this.held.get(traceId);
    if (!entry) return;
    this.held.delete(traceId);
    if (entry.timer) clearTimeout(entry.timer);
    const continued = this.printed.has(traceId);
    this.printed.add(traceId);
    if (this.printed.size > 1000) this.printed.delete(this.printed.values().next().value as string);
    try {
      this.write(renderTrace(entry.spans, this.style, continued));
    } catch {}
  }

  /** Prints every trace still held, root or not: the process is ending. */
  flushHeld(): void {
    for (const traceId of [...this.held.keys()]) this.print(traceId);
  }

  shutdown(): Promise<void> {
    this.flushHeld();
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export function prettySlot(): Slot<ReadableSpan[]> {
  const stderr = process.stderr;
  const style = wantsColour(process.env, !!stderr.isTTY) ? COLOUR : PLAIN;
  const view = new PrettyExporter((text) => {
    stderr.write(text);
  }, style);
  return createSlot({
    label: 'pretty (stderr)',
    maxDelay: MAX_DELAY_MS,
    make: () => view,
    exportSync(spans) {
      view.add(spans);
      view.flushHeld();
      return true;
    },
    flushHeld: () => view.flushHeld(),
  });
}
