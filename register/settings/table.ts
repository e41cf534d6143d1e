// The one table of settings that the CLI (flags, --help, `env`, `doctor`), the config file and the preload all
// share. Each row is an OTEL_* variable (same name and meaning as the spec and the official Node SDK) or one of
// otel-run's own OTEL_RUN_* variables. The CLI turns flags and the config file into these variables for the
// child, so every process in the tree reads the same environment.
import { SIGNAL_DEFAULTS, SIGNAL_SPECS, type SignalSettings } from './endpoints';

export type Kind = 'string' | 'int' | 'float' | 'boolean' | 'enum' | 'enumList' | 'list' | 'kv';

export type Group =
  | 'General'
  | 'Resource'
  | 'Exporters'
  | 'OTLP exporter'
  | 'Sampling and propagation'
  | 'Batching and limits'
  | 'Instrumentations'
  | 'Metrics and logs'
  | 'otel-run';

export interface SettingSpec {
  /** camelCase: the config-file key; the flag is its kebab-case form. */
  readonly key: keyof Settings;
  readonly env: string;
  readonly kind: Kind;
  readonly group: Group;
  readonly description: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Never printed: diagnostics show a reference to the variable instead. */
  readonly secret?: boolean;
  /** Set only as a flag/file key with a name of its own (--enable, --disable, --config). */
  readonly flag?: string;
}

/** Metrics, logs and the process span: rows in settings/endpoints.ts. */
export interface Settings extends SignalSettings {
  sdkDisabled: boolean;
  logLevel: 'none' | 'error' | 'warn' | 'info' | 'debug' | 'verbose' | 'all';
  serviceName?: string;
  resourceAttributes: Record<string, string>;
  resourceDetectors: string[];
  enabledInstrumentations?: string[];
  disabledInstrumentations: string[];
  tracesExporter: string[];
  exporterOtlpEndpoint?: string;
  exporterOtlpTracesEndpoint?: string;
  exporterOtlpProtocol: string;
  exporterOtlpTracesProtocol?: string;
  exporterOtlpHeaders: Record<string, string>;
  exporterOtlpTracesHeaders: Record<string, string>;
  exporterOtlpTimeout: number;
  exporterOtlpTracesTimeout?: number;
  exporterOtlpCompression?: string;
  exporterOtlpTracesCompression?: string;
  exporterOtlpCertificate?: string;
  exporterOtlpClientCertificate?: string;
  exporterOtlpClientKey?: string;
  exporterOtlpInsecure?: boolean;
  exporterZipkinEndpoint: string;
  tracesSampler: string;
  tracesSamplerArg?: string;
  propagators: string[];
  bspScheduleDelay: number;
  bspExportTimeout: number;
  bspMaxQueueSize: number;
  bspMaxExportBatchSize: number;
  attributeCountLimit?: number;
  attributeValueLengthLimit?: number;
  spanAttributeCountLimit?: number;
  spanAttributeValueLengthLimit?: number;
  spanEventCountLimit?: number;
  spanLinkCountLimit?: number;
  spanAttributePerEventCountLimit?: number;
  spanAttributePerLinkCountLimit?: number;
  flushTimeout: number;
  strict: boolean;
  /** ES module hooks (register/hooks/esm.ts). */
  esm: 'auto' | 'on' | 'off';
  config?: string;
  /** The OpenTelemetry configuration file (register/otel-config/). */
  otelConfigFile?: string;
}

export const LOG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
export const TRACES_EXPORTERS = ['otlp', 'console', 'zipkin', 'pretty', 'none'] as const;
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export const PROPAGATORS = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger', 'none'] as const;
export const RESOURCE_DETECTORS = [
  'all',
  'none',
  'env',
  'host',
  'os',
  'process',
  'serviceinstance',
  'container',
  'alibaba',
  'aws',
  'azure',
  'gcp',
] as const;

const MAX_INT = 2 ** 31 - 1;

export const SPECS: readonly SettingSpec[] = [
  {
    key: 'sdkDisabled',
    env: 'OTEL_SDK_DISABLED',
    kind: 'boolean',
    group: 'General',
    description: 'turn everything off',
  },
  {
    key: 'logLevel',
    env: 'OTEL_LOG_LEVEL',
    kind: 'enum',
    values: LOG_LEVELS,
    group: 'General',
    description: "otel-run's and the SDK's own messages, on stderr",
  },
  {
    key: 'serviceName',
    env: 'OTEL_SERVICE_NAME',
    kind: 'string',
    group: 'Resource',
    description: 'service.name',
  },
  {
    key: 'resourceAttributes',
    env: 'OTEL_RESOURCE_ATTRIBUTES',
    kind: 'kv',
    group: 'Resource',
    description: 'key=value,... added to the resource',
  },
  {
    key: 'resourceDetectors',
    env: 'OTEL_NODE_RESOURCE_DETECTORS',
    kind: 'enumList',
    values: RESOURCE_DETECTORS,
    group: 'Resource',
    description: 'resource detectors (cloud ones only when named)',
  },
  {
    key: 'enabledInstrumentations',
    env: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    kind: 'list',
    flag: 'enable',
    group: 'Instrumentations',
    description: 'only these instrumentors (names as in `otel-run list`)',
  },
  {
    key: 'disabledInstrumentations',
    env: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    kind: 'list',
    flag: 'disable',
    group: 'Instrumentations',
    description: 'never these instrumentors (wins over --enable)',
  },
  {
    key: 'tracesExporter',
    env: 'OTEL_TRACES_EXPORTER',
    kind: 'enumList',
    values: TRACES_EXPORTERS,
    group: 'Exporters',
    description: 'where spans go',
  },
  {
    key: 'exporterOtlpEndpoint',
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    kind: 'string',
    group: 'OTLP exporter',
    description: 'base URL; /v1/traces is appended',
  },
  {
    key: 'exporterOtlpTracesEndpoint',
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    kind: 'string',
    group: 'OTLP exporter',
    description: 'full URL for spans, used as is',
  },
  {
    key: 'exporterOtlpProtocol',
    env: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    kind: 'enum',
    values: OTLP_PROTOCOLS,
    group: 'OTLP exporter',
    description: 'wire protocol',
  },
  {
    key: 'exporterOtlpTracesProtocol',
    env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    kind: 'enum',
    values: OTLP_PROTOCOLS,
    group: 'OTLP exporter',
    description: 'wire protocol for spans',
  },
  {
    key: 'exporterOtlpHeaders',
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    kind: 'kv',
    secret: true,
    group: 'OTLP exporter',
    description: 'key=value,... request headers',
  },
  {
    key: 'exporterOtlpTracesHeaders',
    env: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    kind: 'kv',
    secret: true,
    group: 'OTLP exporter',
    description: 'headers for span requests',
  },
  {
    key: 'exporterOtlpTimeout',
    env: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    kind: 'int',
    min: 1,
    max: MAX_INT,
    group: 'OTLP exporter',
    description: 'request timeout, ms',
  },
  {
    key: 'exporterOtlpTracesTimeout',
    env: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
    kind: 'int',
    min: 1,
    max: MAX_INT,
    group: 'OTLP exporter',
    description: 'request timeout for spans, ms',
  },
  {
    key: 'exporterOtlpCompression',
    env: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    kind: 'enum',
    values: ['gzip', 'none'],
    group: 'OTLP exporter',
    description: 'request compression',
  },
  {
    key: 'exporterOtlpTracesCompression',
    env: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    kind: 'enum',
    values: ['gzip', 'none'],
    group: 'OTLP exporter',
    description: 'compression for spans',
  },
  {
    key: 'exporterOtlpCertificate',
    env: 'OTEL_EXPORTER_OTLP_CERTIFICATE',
    kind: 'string',
    group: 'OTLP exporter',
    description: 'CA certificate file (PEM)',
  },
  {
    key: 'exporterOtlpClientCertificate',
    env: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
    kind: 'string',
    group: 'OTLP exporter',
    description: 'client certificate file (PEM)',
  },
  {
    key: 'exporterOtlpClientKey',
    env: 'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    kind: 'string',
    group: 'OTLP exporter',
    description: 'client key file (PEM)',
  },
  {
    key: 'exporterOtlpInsecure',
    env: 'OTEL_EXPORTER_OTLP_INSECURE',
    kind: 'boolean',
    group: 'OTLP exporter',
    description: 'grpc without TLS',
  },
  {
    key: 'exporterZipkinEndpoint',
    env: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
    kind: 'string',
    group: 'Exporters',
    description: 'Zipkin URL',
  },
  {
    key: 'tracesSampler',
    env: 'OTEL_TRACES_SAMPLER',
    kind: 'enum',
    values: SAMPLERS,
    group: 'Sampling and propagation',
    description: 'which spans are kept',
  },
  {
    key: 'tracesSamplerArg',
    env: 'OTEL_TRACES_SAMPLER_ARG',
    kind: 'string',
    group: 'Sampling and propagation',
    description: 'ratio 0..1 for the *traceidratio samplers',
  },
  {
    key: 'propagators',
    env: 'OTEL_PROPAGATORS',
    kind: 'enumList',
    values: PROPAGATORS,
    group: 'Sampling and propagation',
    description: 'context headers read and written',
  },
  ...(
    [
      ['bspScheduleDelay', 'OTEL_BSP_SCHEDULE_DELAY', 0, 'ms between batch exports'],
      ['bspExportTimeout', 'OTEL_BSP_EXPORT_TIMEOUT', 0, 'ms an export may take'],
      ['bspMaxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE', 1, 'spans held before new ones are dropped'],
      ['bspMaxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, 'spans per export'],
      ['attributeCountLimit', 'OTEL_ATTRIBUTE_COUNT_LIMIT', 0, 'attributes per span'],
      ['attributeValueLengthLimit', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 0, 'characters per attribute value'],
      ['spanAttributeCountLimit', 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 0, 'attributes per span'],
      ['spanAttributeValueLengthLimit', 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 0, 'characters per value'],
      ['spanEventCountLimit', 'OTEL_SPAN_EVENT_COUNT_LIMIT', 0, 'events per span'],
      ['spanLinkCountLimit', 'OTEL_SPAN_LINK_COUNT_LIMIT', 0, 'links per span'],
      [
        'spanAttributePerEventCountLimit',
        'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
        0,
        'attributes per event',
      ],
      [
        'spanAttributePerLinkCountLimit',
        'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
        0,
        'attributes per link',
      ],
    ] as const
  ).map(
    ([key, env, min, description]): SettingSpec => ({
      key,
      env,
      kind: 'int',
      min,
      max: MAX_INT,
      group: 'Batching and limits',
      description,
    }),
  ),
  {
    key: 'flushTimeout',
    env: 'OTEL_RUN_FLUSH_TIMEOUT',
    kind: 'int',
    min: 0,
    max: 60_000,
    group: 'otel-run',
    description: 'ms the exit may wait for the last spans to be sent',
  },
  {
    key: 'strict',
    env: 'OTEL_RUN_STRICT',
    kind: 'boolean',
    group: 'otel-run',
    description: 'any configuration or instrumentor error stops the app (for CI)',
  },
  {
    key: 'esm',
    env: 'OTEL_RUN_ESM',
    kind: 'enum',
    values: ['auto', 'on', 'off'],
    group: 'otel-run',
    description: 'when to hook ES module imports (auto: for an ES module entry or a TypeScript runner)',
  },
  {
    key: 'config',
    env: 'OTEL_RUN_CONFIG',
    kind: 'string',
    flag: 'config',
    group: 'otel-run',
    description: 'config file to read instead of searching for one',
  },
  {
    key: 'otelConfigFile',
    env: 'OTEL_CONFIG_FILE',
    kind: 'string',
    group: 'General',
    description:
      'OpenTelemetry configuration file (YAML, file_format 1.x): replaces every other OTEL_* setting (docs/configuration.md)',
  },
  ...SIGNAL_SPECS,
];

export const DEFAULTS: Settings = {
  sdkDisabled: false,
  logLevel: 'warn',
  resourceAttributes: {},
  resourceDetectors: ['env', 'host', 'os', 'process', 'serviceinstance'],
  disabledInstrumentations: [],
  tracesExporter: ['otlp'],
  exporterOtlpProtocol: 'http/protobuf',
  exporterOtlpHeaders: {},
  exporterOtlpTracesHeaders: {},
  exporterOtlpTimeout: 10_000,
  exporterZipkinEndpoint: 'http://localhost:9411/api/v2/spans',
  tracesSampler: 'parentbased_always_on',
  propagators: ['tracecontext', 'baggage'],
  bspScheduleDelay: 5000,
  bspExportTimeout: 30_000,
  bspMaxQueueSize: 2048,
  bspMaxExportBatchSize: 512,
  flushTimeout: 3000,
  strict: false,
  esm: 'auto',
  ...SIGNAL_DEFAULTS,
};

/** A value that could not be used, with the reason; the caller decides whether it warns or stops. */
export interface Problem {
  readonly source: string;
  readonly message: string;
}

// Values longer than this are almost surely a mistake (a file pasted into a variable); they are refused
// rather than carried into every span or request.
const MAX_VALUE_LENGTH = 64 * 1024;

function describeDefault(spec: SettingSpec): string {
  const value = DEFAULTS[spec.key];
  if (value === undefined) return 'it is ignored';
  if (Array.isArray(value)) return `using the default ${value.join(',') || '(none)'}`;
  if (typeof value === 'object') return 'using the default (none)';
  return `using the default ${String(value)}`;
}

function showValue(spec: SettingSpec, raw: string): string {
  if (spec.secret) return '(redacted)';
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw);
}

/**
 * Parses `key=value,key2=value2` as the spec's OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS
 * (W3C Baggage octets: values percent-decoded). A malformed entry is skipped and reported; the rest is kept.
 */
export function parseKeyValueList(
  raw: string,
  bad: (entry: string, why: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (!entry) continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      bad(entry, 'expected key=value');
      continue;
    }
    const key = entry.slice(0, eq).trim();
    try {
      out[key] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      bad(entry, 'bad percent-encoding');
    }
  }
  return out;
}

function parseOne(spec: SettingSpec, raw: string, problem: (message: string) => void): unknown {
  const trimmed = raw.trim();
  switch (spec.kind) {
    case 'string':
      return trimmed || undefined;
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false' || lower === '') return false;
      problem('expected true or false');
      return undefined;
    }
    case 'int':
    case 'float': {
      if (trimmed === '') return undefined;
      const n = Number(trimmed);
      if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
        problem(spec.kind === 'int' ? 'expected a whole number' : 'expected a number');
        return undefined;
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        problem(`expected a number from ${spec.min ?? '-∞'} to ${spec.max ?? '∞'}`);
        return undefined;
      }
      return n;
    }
    case 'enum': {
      const lower = trimmed.toLowerCase();
      if (lower === '') return undefined;
      if (spec.values?.includes(lower)) return lower;
      problem(`expected one of ${spec.values?.join(', ')}`);
      return undefined;
    }
    case 'enumList':
    case 'list': {
      const items = trimmed
        .split(',')
        .map((s) => (spec.kind === 'enumList' ? s.trim().toLowerCase() : s.trim()))
        .filter(Boolean);
      if (spec.kind === 'enumList') {
        const unknown = items.filter((i) => !spec.values?.includes(i));
        if (unknown.length) {
          problem(`unknown ${unknown.join(', ')}: expected any of ${spec.values?.join(', ')}`);
          const known = items.filter((i) => spec.values?.includes(i));
          return known.length ? known : undefined;
        }
      }
      return items;
    }
    case 'kv':
      return parseKeyValueList(trimmed, (entry, why) =>
        problem(`${why} in ${spec.secret ? 'an entry' : JSON.stringify(entry)}; that entry is skipped`),
      );
  }
}

/**
 * Reads every setting from an environment. Bad values are reported to `report` and replaced by the spec
 * default, so the caller always gets a complete, valid Settings.
 */
export function readSettings(env: NodeJS.ProcessEnv, report: (p: Problem) => void = () => {}): Settings {
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const spec of SPECS) {
    const raw = env[spec.env];
    if (raw === undefined) continue;
    const source = spec.env;
    if (raw.length > MAX_VALUE_LENGTH) {
      report({
        source,
        message: `${source} is ${raw.length} characters long: too long — ${describeDefault(spec)}`,
      });
      continue;
    }
    let complaint: string | undefined;
    const value = parseOne(spec, raw, (why) => {
      complaint ??= why;
    });
    if (complaint) {
      const partial = value !== undefined && spec.kind !== 'boolean';
      // What happens instead, also when part of the value is kept (every warning says it).
      const instead = !partial
        ? describeDefault(spec)
        : Array.isArray(value)
          ? `using ${value.join(',')}`
          : 'the other entries are used';
      report({
        source,
        message: `${source}=${showValue(spec, raw)} is not valid: ${complaint} — ${instead}`,
      });
    }
    if (value !== undefined) out[spec.key] = value;
  }
  return out as unknown as Settings;
}
