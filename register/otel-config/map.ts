// The configuration file's model (register/otel-config/parse.ts) turned into otel-run's pipeline: the
// settings every other part reads (exporters, limits, propagators, log level, the instrumentors), and the
// pipelines the settings cannot express (export/pipeline.ts: any number of processors and readers, each
// with its own exporter and options; a composed sampler; typed resource attributes). Every key the file
// gives a value that otel-run does not carry out is one warning naming the key and its line: never a silent
// difference. Keys left null (the spec's templates do that for every optional key) are unset.
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { BatchOptions } from '../export/batch-processor';
import {
  type DeclaredPipelines,
  type ExporterPlan,
  type MetricExporterPlan,
  type ProcessorPlan,
  type ReaderPlan,
  simpleOptions,
  type ViewPlan,
} from '../export/pipeline';
import type { OtlpProtocol, OtlpTarget, Signal } from '../export/target';
import type { SamplerSpec } from '../sdk/sampler';
import { LOG_LEVELS, PROPAGATORS, type Settings } from '../settings/table';
import { type KeyPath, type Located, type Model, type ParsedFile, showKey } from './parse';

/** A located note; `error`s stop a strict start, `gap`s (what otel-run does not do) never do. */
export interface Finding extends Located {
  readonly kind: 'error' | 'gap';
}

export interface Origin {
  key: string;
  line?: number;
}

export interface Mapped {
  settings: Settings;
  declared: DeclaredPipelines;
  /** Per-instrumentor options from `instrumentation/development` → `js`. */
  instrumentations: Record<string, Record<string, unknown>>;
  /** Where each setting (by its variable) came from in the file. */
  origins: Record<string, Origin>;
  findings: Finding[];
}

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** A value that says something: not null, and not a mapping or list of nothing but nulls. */
function given(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (Array.isArray(v)) return v.some(given);
  if (isObject(v)) return Object.values(v).some(given);
  return true;
}

class Walker {
  readonly findings: Finding[] = [];
  readonly origins: Record<string, Origin> = {};
  constructor(private readonly parsed: ParsedFile) {}

  line(keys: KeyPath): number | undefined {
    return this.parsed.lineOf(keys);
  }
  note(kind: Finding['kind'], keys: KeyPath, message: string): void {
    this.findings.push({ kind, key: showKey(keys), line: this.line(keys), message });
  }
  gap(keys: KeyPath, what = 'not supported by otel-run'): void {
    this.note('gap', keys, `${what} — ignored`);
  }
  origin(variable: string, keys: KeyPath): void {
    this.origins[variable] ??= { key: showKey(keys), line: this.line(keys) };
  }
  /** Reports every key of `obj` not in `handled` that has a value. */
  rest(obj: Raw | undefined, keys: KeyPath, handled: readonly string[]): void {
    if (!obj) return;
    for (const [k, v] of Object.entries(obj)) if (!handled.includes(k) && given(v)) this.gap([...keys, k]);
  }
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** The one key of a "one of" object (`{otlp_http: {...}}`), with its value. */
function only(obj: Raw): [string, unknown] | undefined {
  const entries = Object.entries(obj);
  return entries.length === 1 ? entries[0] : undefined;
}

function mergedHeaders(o: Raw): Record<string, string> {
  const { mergeHeadersConfig } =
    require('@opentelemetry/configuration') as typeof import('@opentelemetry/configuration');
  return mergeHeadersConfig(
    Array.isArray(o.headers) ? (o.headers as never) : undefined,
    (o.headers_list as string | null | undefined) ?? undefined,
  ) as Record<string, string>;
}

function otlpTargetOf(w: Walker, type: string, o: Raw, keys: KeyPath, signal: Signal): OtlpTarget {
  const grpc = type === 'otlp_grpc';
  const handled = ['endpoint', 'headers', 'headers_list', 'compression', 'timeout', 'tls'];
  let protocol: OtlpProtocol = grpc ? 'grpc' : 'http/protobuf';
  if (!grpc) {
    handled.push('encoding');
    if (o.encoding === 'json') protocol = 'http/json';
  }
  if (signal === 'metrics') handled.push('temporality_preference', 'default_histogram_aggregation');
  let compression: 'gzip' | 'none' = 'none';
  if (o.compression === 'gzip') compression = 'gzip';
  else if (given(o.compression) && o.compression !== 'none')
    w.note('error', [...keys, 'compression'], `${JSON.stringify(o.compression)} is not gzip or none — none`);
  const tls = isObject(o.tls) ? o.tls : {};
  w.rest(tls, [...keys, 'tls'], ['ca_file', 'key_file', 'cert_file', ...(grpc ? ['insecure'] : [])]);
  // The gRPC exporter takes plain text or TLS from the URL's scheme (http:// or https://).
  if (grpc && tls.insecure === true && /^https:/i.test(String(o.endpoint ?? '')))
    w.gap(
      [...keys, 'tls', 'insecure'],
      'insecure with an https:// endpoint: otel-run follows the scheme (TLS)',
    );
  w.rest(o, keys, handled);
  return {
    protocol,
    url: str(o.endpoint) ?? (grpc ? 'http://localhost:4317' : `http://localhost:4318/v1/${signal}`),
    headers: mergedHeaders(o),
    timeoutMillis: num(o.timeout) ?? 10_000,
    compression,
    tls: { ca: str(tls.ca_file), cert: str(tls.cert_file), key: str(tls.key_file) },
    insecure: tls.insecure === true ? true : undefined,
  };
}

const SPAN_EXPORTERS = ['otlp_http', 'otlp_grpc', 'console', 'zipkin'];

/** One processor's exporter; undefined (after a finding) when otel-run cannot build it. */
function exporterOf(w: Walker, value: unknown, keys: KeyPath, signal: Signal): ExporterPlan | undefined {
  const one = isObject(value) ? only(value) : undefined;
  if (!one) {
    w.note('error', keys, 'expected exactly one exporter — this processor is left out');
    return undefined;
  }
  const [type, o] = one;
  const at = [...keys, type];
  if (type === 'console') return { type: 'console' };
  if (type === 'otlp_http' || type === 'otlp_grpc')
    return { type: 'otlp', target: otlpTargetOf(w, type, isObject(o) ? o : {}, at, signal) };
  if (type === 'zipkin' && signal === 'traces') {
    // Not in the 1.x schema (it was in the release candidates); the schema lets it through as a plugin.
    const z = isObject(o) ? o : {};
    w.rest(z, at, ['endpoint']);
    return { type: 'zipkin', url: str(z.endpoint) ?? 'http://localhost:9411/api/v2/spans' };
  }
  if (type === 'otlp_file/development') {
    w.gap(at, 'the OTLP file exporter is not supported by otel-run — this processor is left out;');
    return undefined;
  }
  const known = signal === 'traces' ? SPAN_EXPORTERS : SPAN_EXPORTERS.filter((t) => t !== 'zipkin');
  w.note(
    'error',
    at,
    `unknown exporter type (otel-run knows ${known.join(', ')}) — this processor is left out`,
  );
  return undefined;
}

function processorsOf(
  w: Walker,
  provider: Raw,
  keys: KeyPath,
  signal: 'traces' | 'logs',
  defaults: BatchOptions,
): ProcessorPlan[] {
  const out: ProcessorPlan[] = [];
  const list = Array.isArray(provider.processors) ? provider.processors : [];
  list.forEach((p, i) => {
    const at = [...keys, 'processors', i];
    const one = isObject(p) ? only(p) : undefined;
    const kind = one?.[0];
    const o = isObject(one?.[1]) ? (one[1] as Raw) : {};
    if (kind !== 'batch' && kind !== 'simple') {
      // `/development` types (event_to_span_event_bridge) are real but not done here: a gap, not a typo.
      w.note(
        kind?.endsWith('/development') ? 'gap' : 'error',
        kind ? [...at, kind] : at,
        'processor type not supported by otel-run (it knows batch, simple) — left out',
      );
      return;
    }
    const exporter = exporterOf(w, o.exporter, [...at, kind, 'exporter'], signal);
    if (!exporter) return;
    if (kind === 'simple') {
      w.rest(o, [...at, kind], ['exporter']);
      out.push({ kind, exporter, options: simpleOptions(defaults.exportTimeout) });
      return;
    }
    w.rest(
      o,
      [...at, kind],
      ['exporter', 'schedule_delay', 'export_timeout', 'max_queue_size', 'max_export_batch_size'],
    );
    const maxQueueSize = num(o.max_queue_size) ?? defaults.maxQueueSize;
    out.push({
      kind,
      exporter,
      options: {
        scheduleDelay: num(o.schedule_delay) ?? defaults.scheduleDelay,
        exportTimeout: num(o.export_timeout) ?? defaults.exportTimeout,
        maxQueueSize,
        maxExportBatchSize: Math.min(
          num(o.max_export_batch_size) ?? defaults.maxExportBatchSize,
          maxQueueSize,
        ),
      },
    });
  });
  return out;
}

function describeSampler(spec: SamplerSpec): string {
  switch (spec.type) {
    case 'trace_id_ratio_based':
      return `trace_id_ratio_based(${spec.ratio})`;
    case 'parent_based': {
      const parts = [`root=${describeSampler(spec.root)}`];
      const more: Array<[string, SamplerSpec | undefined]> = [
        ['remote_parent_sampled', spec.remoteParentSampled],
        ['remote_parent_not_sampled', spec.remoteParentNotSampled],
        ['local_parent_sampled', spec.localParentSampled],
        ['local_parent_not_sampled', spec.localParentNotSampled],
      ];
      for (const [k, v] of more) if (v) parts.push(`${k}=${describeSampler(v)}`);
      return `parent_based(${parts.join(', ')})`;
    }
    default:
      return spec.type;
  }
}

const SAMPLER_TYPES = ['always_on', 'always_off', 'trace_id_ratio_based', 'parent_based'];
const DEFAULT_SAMPLER: SamplerSpec = { type: 'parent_based', root: { type: 'always_on' } };

function samplerOf(w: Walker, value: unknown, keys: KeyPath): SamplerSpec | undefined {
  const one = isObject(value) ? only(value) : undefined;
  if (!one) return undefined;
  const [type, o] = one;
  const at = [...keys, type];
  const opts = isObject(o) ? o : {};
  switch (type) {
    case 'always_on':
    case 'always_off':
      return { type };
    case 'trace_id_ratio_based':
      w.rest(opts, at, ['ratio']);
      return { type, ratio: num(opts.ratio) ?? 1 };
    case 'parent_based': {
      w.rest(opts, at, [
        'root',
        'remote_parent_sampled',
        'remote_parent_not_sampled',
        'local_parent_sampled',
        'local_parent_not_sampled',
      ]);
      const sub = (k: string) => samplerOf(w, opts[k], [...at, k]);
      return {
        type,
        root: sub('root') ?? { type: 'always_on' },
        remoteParentSampled: sub('remote_parent_sampled'),
        remoteParentNotSampled: sub('remote_parent_not_sampled'),
        localParentSampled: sub('local_parent_sampled'),
        localParentNotSampled: sub('local_parent_not_sampled'),
      };
    }
    default:
      w.note(
        /\/development$/.test(type) ? 'gap' : 'error',
        at,
        `sampler not supported by otel-run (it knows ${SAMPLER_TYPES.join(', ')}) — the default parent_based(always_on) is used there`,
      );
      return undefined;
  }
}

/** A resource attribute's value with its declared type (`string` when none, as the spec says). */
function typedValue(v: unknown, type: unknown): AttributeValue | undefined {
  const t = typeof type === 'string' ? type : 'string';
  const one = (x: unknown, base: string): string | number | boolean | undefined => {
    if (base === 'bool')
      return typeof x === 'boolean' ? x : x === 'true' ? true : x === 'false' ? false : undefined;
    if (base === 'int' || base === 'double') {
      const n = typeof x === 'number' ? x : Number(x);
      return Number.isFinite(n) ? (base === 'int' ? Math.trunc(n) : n) : undefined;
    }
    return x === null || x === undefined ? undefined : String(x);
  };
  if (t.endsWith('_array')) {
    if (!Array.isArray(v)) return undefined;
    return v.map((x) => one(x, t.slice(0, -6))).filter((x) => x !== undefined) as AttributeValue;
  }
  return one(v, t);
}

const DETECTORS: Record<string, string[]> = {
  host: ['host', 'os'],
  process: ['process'],
  service: ['serviceinstance'],
  container: ['container'],
};

function resourceOf(w: Walker, s: Settings, r: Raw | undefined, env: NodeJS.ProcessEnv): Attributes {
  const keys = ['resource'];
  const attributes: Attributes = {};
  s.resourceAttributes = {};
  s.resourceDetectors = [];
  if (!r) return attributes;
  w.rest(r, keys, ['attributes', 'attributes_list', 'detection/development']);
  const { mergeResourceAttributesConfig } =
    require('@opentelemetry/configuration') as typeof import('@opentelemetry/configuration');
  const list = mergeResourceAttributesConfig(
    Array.isArray(r.attributes) ? (r.attributes as never) : undefined,
    (r.attributes_list as string | null | undefined) ?? undefined,
  );
  for (const a of list ?? []) {
    const entry = a as { name?: unknown; value?: unknown; type?: unknown };
    if (typeof entry.name !== 'string') continue;
    const value = typedValue(entry.value, entry.type);
    if (value === undefined) continue;
    attributes[entry.name] = value;
    s.resourceAttributes[entry.name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  if (given(r.attributes) || given(r.attributes_list))
    w.origin('OTEL_RESOURCE_ATTRIBUTES', [...keys, 'attributes']);
  const detection = isObject(r['detection/development']) ? (r['detection/development'] as Raw) : undefined;
  if (detection) {
    const at = [...keys, 'detection/development'];
    w.rest(detection, at, ['detectors']);
    const detectors = Array.isArray(detection.detectors) ? detection.detectors : [];
    detectors.forEach((d, i) => {
      const name = isObject(d) ? only(d)?.[0] : undefined;
      const mapped = name ? DETECTORS[name] : undefined;
      // The spec's service detector also names the service from OTEL_SERVICE_NAME (below the attributes).
      const named = env.OTEL_SERVICE_NAME?.trim();
      if (name === 'service' && named && attributes['service.name'] === undefined) {
        attributes['service.name'] = named;
        s.resourceAttributes['service.name'] = named;
      }
      if (mapped) s.resourceDetectors.push(...mapped);
      else
        w.note(
          'error',
          [...at, 'detectors', i, ...(name ? [name] : [])],
          `unknown resource detector (otel-run knows ${Object.keys(DETECTORS).join(', ')}) — skipped`,
        );
    });
    w.origin('OTEL_NODE_RESOURCE_DETECTORS', [...at, 'detectors']);
  }
  return attributes;
}

function readersOf(w: Walker, mp: Raw): ReaderPlan[] {
  const keys = ['meter_provider'];
  const out: ReaderPlan[] = [];
  const list = Array.isArray(mp.readers) ? mp.readers : [];
  list.forEach((r, i) => {
    const at = [...keys, 'readers', i];
    const one = isObject(r) ? only(r) : undefined;
    const kind = one?.[0];
    const o = isObject(one?.[1]) ? (one[1] as Raw) : {};
    if (kind === 'pull') {
      w.rest(o, [...at, kind], ['exporter']);
      const ex = isObject(o.exporter) ? only(o.exporter) : undefined;
      const exAt = [...at, kind, 'exporter', ...(ex ? [ex[0]] : [])];
      if (ex?.[0] !== 'prometheus/development') {
        w.note(
          'error',
          exAt,
          'unknown pull exporter (otel-run knows prometheus/development) — this reader is left out',
        );
        return;
      }
      if (out.some((p) => p.kind === 'prometheus')) {
        w.gap(at, 'a second Prometheus endpoint is not supported by otel-run');
        return;
      }
      const p = isObject(ex[1]) ? ex[1] : {};
      w.rest(p, exAt, ['host', 'port']);
      out.push({ kind: 'prometheus', host: str(p.host), port: num(p.port) ?? 9464 });
      return;
    }
    if (kind !== 'periodic') {
      w.note(
        'error',
        kind ? [...at, kind] : at,
        'unknown metric reader (otel-run knows periodic, pull) — left out',
      );
      return;
    }
    w.rest(o, [...at, kind], ['exporter', 'interval', 'timeout']);
    const exAt = [...at, kind, 'exporter'];
    const ex = isObject(o.exporter) ? only(o.exporter) : undefined;
    let exporter: MetricExporterPlan | undefined;
    let temporality = 'cumulative';
    if (ex?.[0] === 'console') {
      w.rest(isObject(ex[1]) ? ex[1] : undefined, [...exAt, 'console'], []);
      exporter = { type: 'console' };
    } else if (ex?.[0] === 'otlp_http' || ex?.[0] === 'otlp_grpc') {
      const e = isObject(ex[1]) ? ex[1] : {};
      const eAt = [...exAt, ex[0]];
      exporter = { type: 'otlp', target: otlpTargetOf(w, ex[0], e, eAt, 'metrics') };
      if (e.temporality_preference === 'delta') temporality = 'delta';
      else if (e.temporality_preference === 'low_memory') temporality = 'lowmemory';
      if (
        given(e.default_histogram_aggregation) &&
        e.default_histogram_aggregation !== 'explicit_bucket_histogram'
      )
        w.gap(
          [...eAt, 'default_histogram_aggregation'],
          'exponential histograms by default are not supported by otel-run',
        );
    } else {
      w.note(
        ex?.[0] === 'otlp_file/development' ? 'gap' : 'error',
        ex ? [...exAt, ex[0]] : exAt,
        'metric exporter not supported by otel-run (it knows otlp_http, otlp_grpc, console) — this reader is left out',
      );
      return;
    }
    out.push({
      kind: 'periodic',
      exporter,
      interval: num(o.interval) ?? 60_000,
      timeout: num(o.timeout) ?? 30_000,
      temporality,
    });
  });
  return out;
}

const INSTRUMENT_TYPES = [
  'counter',
  'gauge',
  'histogram',
  'observable_counter',
  'observable_gauge',
  'observable_up_down_counter',
  'up_down_counter',
];
const AGGREGATIONS = [
  'default',
  'drop',
  'sum',
  'last_value',
  'explicit_bucket_histogram',
  'base2_exponential_bucket_histogram',
] as const;

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

function viewsOf(w: Walker, mp: Raw): ViewPlan[] {
  const list = Array.isArray(mp.views) ? mp.views : [];
  const out: ViewPlan[] = [];
  list.forEach((v, i) => {
    const at = ['meter_provider', 'views', i];
    const view = isObject(v) ? v : {};
    w.rest(view, at, ['selector', 'stream']);
    const sel = isObject(view.selector) ? view.selector : {};
    const stream = isObject(view.stream) ? view.stream : {};
    w.rest(
      sel,
      [...at, 'selector'],
      ['instrument_name', 'instrument_type', 'unit', 'meter_name', 'meter_version', 'meter_schema_url'],
    );
    w.rest(
      stream,
      [...at, 'stream'],
      ['name', 'description', 'aggregation', 'aggregation_cardinality_limit', 'attribute_keys'],
    );
    const plan: ViewPlan = {
      instrumentName: str(sel.instrument_name),
      instrumentUnit: str(sel.unit),
      meterName: str(sel.meter_name),
      meterVersion: str(sel.meter_version),
      meterSchemaUrl: str(sel.meter_schema_url),
      name: str(stream.name),
      description: str(stream.description),
      cardinalityLimit: num(stream.aggregation_cardinality_limit),
    };
    const type = str(sel.instrument_type);
    if (type && INSTRUMENT_TYPES.includes(type)) plan.instrumentType = type.toUpperCase();
    else if (type) {
      w.note(
        'error',
        [...at, 'selector', 'instrument_type'],
        `unknown instrument type — this view is left out`,
      );
      return;
    }
    const agg = isObject(stream.aggregation) ? only(stream.aggregation) : undefined;
    if (agg) {
      const kind = AGGREGATIONS.find((k) => k === agg[0]);
      if (!kind) {
        w.note(
          'error',
          [...at, 'stream', 'aggregation', agg[0]],
          'unknown aggregation — this view is left out',
        );
        return;
      }
      const o = isObject(agg[1]) ? agg[1] : {};
      const aAt = [...at, 'stream', 'aggregation', kind];
      w.rest(o, aAt, ['boundaries', 'record_min_max', 'max_size', 'max_scale']);
      if (kind === 'base2_exponential_bucket_histogram' && given(o.max_scale))
        w.gap([...aAt, 'max_scale'], 'max_scale is not supported by the JS SDK');
      plan.aggregation = {
        kind,
        boundaries: Array.isArray(o.boundaries) ? (o.boundaries as number[]) : undefined,
        recordMinMax: typeof o.record_min_max === 'boolean' ? o.record_min_max : undefined,
        maxSize: num(o.max_size),
      };
    }
    const keys = isObject(stream.attribute_keys) ? stream.attribute_keys : undefined;
    if (keys) plan.attributeKeys = { included: strings(keys.included), excluded: strings(keys.excluded) };
    out.push(plan);
  });
  return out;
}

function logLevelOf(v: unknown): Settings['logLevel'] | undefined {
  if (typeof v !== 'string') return undefined;
  const base = v.replace(/\d+$/, '');
  if (base === 'trace') return 'verbose';
  if (base === 'fatal') return 'error';
  return (LOG_LEVELS as readonly string[]).includes(base) ? (base as Settings['logLevel']) : undefined;
}

/** The exporters' names as the settings show them (startup line, doctor): otlp, console, zipkin. */
function exporterNames(plans: Array<{ exporter: { type: string } }>): string[] {
  return plans.length ? [...new Set(plans.map((p) => p.exporter.type))] : ['none'];
}

/** The first OTLP target of a signal into the settings, so the startup line and doctor show it. */
function summarise(
  w: Walker,
  s: Settings,
  signal: Signal,
  plans: Array<{ exporter: { type: string; target?: OtlpTarget } }>,
  key: KeyPath,
): void {
  const t = plans.find((p) => p.exporter.type === 'otlp')?.exporter.target;
  if (!t) return;
  const Cap = signal === 'traces' ? 'Traces' : signal === 'metrics' ? 'Metrics' : 'Logs';
  const set = s as unknown as Record<string, unknown>;
  set[`exporterOtlp${Cap}Endpoint`] = t.url;
  set[`exporterOtlp${Cap}Protocol`] = t.protocol;
  set[`exporterOtlp${Cap}Headers`] = t.headers;
  set[`exporterOtlp${Cap}Timeout`] = t.timeoutMillis;
  set[`exporterOtlp${Cap}Compression`] = t.compression;
  const ENV = `OTEL_EXPORTER_OTLP_${signal.toUpperCase()}`;
  for (const k of ['ENDPOINT', 'PROTOCOL', 'HEADERS', 'TIMEOUT', 'COMPRESSION']) w.origin(`${ENV}_${k}`, key);
  if (signal === 'traces') {
    s.exporterOtlpCertificate = t.tls.ca;
    s.exporterOtlpClientCertificate = t.tls.cert;
    s.exporterOtlpClientKey = t.tls.key;
    s.exporterOtlpInsecure = t.insecure;
  }
}

/**
 * The model as otel-run's settings and pipelines. `base`: the settings from otel-run's own variables only
 * (OTEL_RUN_*), every OTEL_* one at its default: the file replaces that layer.
 */
export function mapModel(parsed: ParsedFile, base: Settings, env: NodeJS.ProcessEnv): Mapped {
  const w = new Walker(parsed);
  const m: Model = parsed.model;
  const s: Settings = {
    ...base,
    otelConfigFile: parsed.file,
    resourceAttributes: {},
    disabledInstrumentations: [...base.disabledInstrumentations],
  };
  w.rest(
    m,
    [],
    [
      'disabled',
      'log_level',
      'attribute_limits',
      'tracer_provider',
      'meter_provider',
      'logger_provider',
      'propagator',
      'resource',
      'instrumentation/development',
      'distribution',
    ],
  );
  if (m.disabled === true) {
    s.sdkDisabled = true;
    w.origin('OTEL_SDK_DISABLED', ['disabled']);
  }
  const level = logLevelOf(m.log_level);
  if (level) {
    s.logLevel = level;
    w.origin('OTEL_LOG_LEVEL', ['log_level']);
  }
  const limits = isObject(m.attribute_limits) ? m.attribute_limits : {};
  w.rest(limits, ['attribute_limits'], ['attribute_count_limit', 'attribute_value_length_limit']);
  s.attributeCountLimit = num(limits.attribute_count_limit);
  s.attributeValueLengthLimit = num(limits.attribute_value_length_limit);

  // Propagators: none unless the file names them (the spec: an omitted propagator is a no-op one).
  const prop = isObject(m.propagator) ? m.propagator : {};
  w.rest(prop, ['propagator'], ['composite', 'composite_list']);
  const { mergePropagatorCompositeConfig } =
    require('@opentelemetry/configuration') as typeof import('@opentelemetry/configuration');
  const composite =
    mergePropagatorCompositeConfig(
      Array.isArray(prop.composite) ? (prop.composite as never) : undefined,
      (prop.composite_list as string | null | undefined) ?? undefined,
    ) ?? [];
  s.propagators = [];
  composite.forEach((entry, i) => {
    const name = isObject(entry) ? only(entry)?.[0] : undefined;
    if (name && (PROPAGATORS as readonly string[]).includes(name)) s.propagators.push(name);
    else
      w.note(
        'error',
        ['propagator', 'composite', i, ...(name ? [name] : [])],
        `unknown propagator (otel-run knows ${PROPAGATORS.join(', ')}) — left out`,
      );
  });
  if (s.propagators.length === 0) s.propagators = ['none'];
  w.origin('OTEL_PROPAGATORS', ['propagator']);

  const resourceAttributes = resourceOf(w, s, isObject(m.resource) ? m.resource : undefined, env);

  // Traces.
  const tp = isObject(m.tracer_provider) ? m.tracer_provider : undefined;
  let spans: ProcessorPlan[] = [];
  let sampler = DEFAULT_SAMPLER;
  if (tp) {
    w.rest(tp, ['tracer_provider'], ['processors', 'limits', 'sampler', 'id_generator']);
    spans = processorsOf(w, tp, ['tracer_provider'], 'traces', {
      scheduleDelay: 5000,
      exportTimeout: 30_000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
    sampler = samplerOf(w, tp.sampler, ['tracer_provider', 'sampler']) ?? DEFAULT_SAMPLER;
    // Samplers are one-of objects whose leaves are null (`always_on:`): present is given.
    if (tp.sampler != null) w.origin('OTEL_TRACES_SAMPLER', ['tracer_provider', 'sampler']);
    const l = isObject(tp.limits) ? tp.limits : {};
    const lAt = ['tracer_provider', 'limits'];
    w.rest(l, lAt, [
      'attribute_count_limit',
      'attribute_value_length_limit',
      'event_count_limit',
      'link_count_limit',
      'event_attribute_count_limit',
      'link_attribute_count_limit',
    ]);
    s.spanAttributeCountLimit = num(l.attribute_count_limit);
    s.spanAttributeValueLengthLimit = num(l.attribute_value_length_limit);
    s.spanEventCountLimit = num(l.event_count_limit);
    s.spanLinkCountLimit = num(l.link_count_limit);
    s.spanAttributePerEventCountLimit = num(l.event_attribute_count_limit);
    s.spanAttributePerLinkCountLimit = num(l.link_attribute_count_limit);
    const idg = isObject(tp.id_generator) ? only(tp.id_generator)?.[0] : undefined;
    if (idg && idg !== 'random')
      w.gap(
        ['tracer_provider', 'id_generator', idg],
        'only the random id generator is supported by otel-run',
      );
    const firstBatch = spans.find((p) => p.kind === 'batch');
    if (firstBatch) {
      s.bspScheduleDelay = firstBatch.options.scheduleDelay;
      s.bspExportTimeout = firstBatch.options.exportTimeout;
      s.bspMaxQueueSize = firstBatch.options.maxQueueSize;
      s.bspMaxExportBatchSize = firstBatch.options.maxExportBatchSize;
    }
  }
  // For the startup line, doctor and env: the composition as text (the SDK builds from `sampler`).
  s.tracesSampler = describeSampler(sampler);
  s.tracesSamplerArg = undefined;
  s.tracesExporter = exporterNames(spans);
  w.origin('OTEL_TRACES_EXPORTER', ['tracer_provider', 'processors']);
  summarise(w, s, 'traces', spans, ['tracer_provider', 'processors']);

  // Metrics.
  const mp = isObject(m.meter_provider) ? m.meter_provider : undefined;
  let readers: ReaderPlan[] = [];
  let views: ViewPlan[] = [];
  if (mp) {
    w.rest(mp, ['meter_provider'], ['readers', 'views']);
    readers = readersOf(w, mp);
    views = viewsOf(w, mp);
  }
  s.metricsExporter = readers.length
    ? [...new Set(readers.map((r) => (r.kind === 'prometheus' ? 'prometheus' : r.exporter.type)))]
    : ['none'];
  w.origin('OTEL_METRICS_EXPORTER', ['meter_provider', 'readers']);
  const periodic = readers.find((r) => r.kind === 'periodic');
  if (periodic?.kind === 'periodic') {
    s.metricExportInterval = periodic.interval;
    s.metricExportTimeout = periodic.timeout;
    s.exporterOtlpMetricsTemporalityPreference = periodic.temporality;
  }
  const prom = readers.find((r) => r.kind === 'prometheus');
  if (prom?.kind === 'prometheus') {
    s.exporterPrometheusHost = prom.host;
    s.exporterPrometheusPort = prom.port;
  }
  summarise(
    w,
    s,
    'metrics',
    readers.flatMap((r) => (r.kind === 'periodic' ? [r] : [])),
    ['meter_provider', 'readers'],
  );

  // Logs.
  const lp = isObject(m.logger_provider) ? m.logger_provider : undefined;
  let logs: ProcessorPlan[] = [];
  if (lp) {
    w.rest(lp, ['logger_provider'], ['processors', 'limits']);
    logs = processorsOf(w, lp, ['logger_provider'], 'logs', {
      scheduleDelay: 1000,
      exportTimeout: 30_000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
    const l = isObject(lp.limits) ? lp.limits : {};
    w.rest(l, ['logger_provider', 'limits'], ['attribute_count_limit', 'attribute_value_length_limit']);
    s.logrecordAttributeCountLimit = num(l.attribute_count_limit);
    s.logrecordAttributeValueLengthLimit = num(l.attribute_value_length_limit);
  }
  s.logsExporter = exporterNames(logs);
  w.origin('OTEL_LOGS_EXPORTER', ['logger_provider', 'processors']);
  summarise(w, s, 'logs', logs, ['logger_provider', 'processors']);

  const instrumentations = instrumentationOf(w, s, m['instrumentation/development']);
  return {
    settings: s,
    declared: {
      file: parsed.file,
      spans,
      logs,
      readers,
      views,
      sampler,
      resourceAttributes,
      logLevelGiven: level !== undefined,
    },
    instrumentations,
    origins: w.origins,
    findings: w.findings,
  };
}

/**
 * `instrumentation/development` → `js`: `{ <instrumentor name as in otel-run list>: { enabled: false } |
 * { ...options } }`. The language-neutral `general` section has no counterpart in otel-run's instrumentors.
 */
function instrumentationOf(w: Walker, s: Settings, value: unknown): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  if (!isObject(value)) return out;
  const keys = ['instrumentation/development'];
  const general = isObject(value.general) ? value.general : undefined;
  if (general)
    for (const [k, v] of Object.entries(general))
      if (given(v))
        w.gap(
          [...keys, 'general', k],
          'general instrumentation options are not supported by otel-run (use js.<name>)',
        );
  const js = isObject(value.js) ? value.js : undefined;
  if (!js) return out;
  for (const [name, options] of Object.entries(js)) {
    if (!isObject(options)) continue;
    const { enabled, ...rest } = options;
    if (enabled === false) s.disabledInstrumentations.push(name);
    if (Object.keys(rest).length) out[name] = rest;
  }
  w.origin('OTEL_NODE_DISABLED_INSTRUMENTATIONS', [...keys, 'js']);
  return out;
}
