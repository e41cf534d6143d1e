// The one table of settings that the CLI (flags, --help, `env`, `doctor`), the config file and the preload all
// share. Each row is an OTEL_* variable (same name and meaning as the spec and the official Node SDK) or one of
// otel-run's own OTEL_RUN_* variables. The CLI turns flags and the config file into these variables for the
// child, so every process in the tree reads the same environment.
import { SIGNAL_DEFAULTS, SIGNAL_SPECS } from './endpoints';
import { anyOf, flag, int, names, oneOf, pairs, type RowInfo, type SettingSpec, text } from './rows';
import type { Settings } from './types';

export type { Group, Kind, RowInfo, SettingSpec } from './rows';
export { parseKeyValueList } from './rows';

export type { Settings, SignalSettings } from './types';

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

function limit<K extends keyof Settings>(key: K, env: string, min: number, description: string) {
  return int({ key, env, min, max: MAX_INT, group: 'Batching and limits', description });
}

export const SPECS: readonly SettingSpec[] = [
  flag({
    key: 'sdkDisabled',
    env: 'OTEL_SDK_DISABLED',
    group: 'General',
    description: 'turn everything off',
  }),
  oneOf(LOG_LEVELS, {
    key: 'logLevel',
    env: 'OTEL_LOG_LEVEL',
    group: 'General',
    description: "otel-run's and the SDK's own messages, on stderr",
  }),
  text({
    key: 'serviceName',
    env: 'OTEL_SERVICE_NAME',
    group: 'Resource',
    description: 'service.name',
  }),
  pairs({
    key: 'resourceAttributes',
    env: 'OTEL_RESOURCE_ATTRIBUTES',
    group: 'Resource',
    description: 'key=value,... added to the resource',
  }),
  anyOf(RESOURCE_DETECTORS, {
    key: 'resourceDetectors',
    env: 'OTEL_NODE_RESOURCE_DETECTORS',
    group: 'Resource',
    description: 'resource detectors (cloud ones only when named)',
  }),
  names({
    key: 'enabledInstrumentations',
    env: 'OTEL_NODE_ENABLED_INSTRUMENTATIONS',
    flag: 'enable',
    group: 'Instrumentations',
    description: 'only these instrumentors (names as in `otel-run list`)',
  }),
  names({
    key: 'disabledInstrumentations',
    env: 'OTEL_NODE_DISABLED_INSTRUMENTATIONS',
    flag: 'disable',
    group: 'Instrumentations',
    description: 'never these instrumentors (wins over --enable)',
  }),
  anyOf(TRACES_EXPORTERS, {
    key: 'tracesExporter',
    env: 'OTEL_TRACES_EXPORTER',
    group: 'Exporters',
    description: 'where spans go',
  }),
  text({
    key: 'exporterOtlpEndpoint',
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    group: 'OTLP exporter',
    description: 'base URL; /v1/traces is appended',
  }),
  text({
    key: 'exporterOtlpTracesEndpoint',
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    group: 'OTLP exporter',
    description: 'full URL for spans, used as is',
  }),
  oneOf(OTLP_PROTOCOLS, {
    key: 'exporterOtlpProtocol',
    env: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    group: 'OTLP exporter',
    description: 'wire protocol',
  }),
  oneOf(OTLP_PROTOCOLS, {
    key: 'exporterOtlpTracesProtocol',
    env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    group: 'OTLP exporter',
    description: 'wire protocol for spans',
  }),
  pairs({
    key: 'exporterOtlpHeaders',
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    secret: true,
    group: 'OTLP exporter',
    description: 'key=value,... request headers',
  }),
  pairs({
    key: 'exporterOtlpTracesHeaders',
    env: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    secret: true,
    group: 'OTLP exporter',
    description: 'headers for span requests',
  }),
  int({
    key: 'exporterOtlpTimeout',
    env: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    min: 1,
    max: MAX_INT,
    group: 'OTLP exporter',
    description: 'request timeout, ms',
  }),
  int({
    key: 'exporterOtlpTracesTimeout',
    env: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
    min: 1,
    max: MAX_INT,
    group: 'OTLP exporter',
    description: 'request timeout for spans, ms',
  }),
  oneOf(['gzip', 'none'], {
    key: 'exporterOtlpCompression',
    env: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    group: 'OTLP exporter',
    description: 'request compression',
  }),
  oneOf(['gzip', 'none'], {
    key: 'exporterOtlpTracesCompression',
    env: 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
    group: 'OTLP exporter',
    description: 'compression for spans',
  }),
  text({
    key: 'exporterOtlpCertificate',
    env: 'OTEL_EXPORTER_OTLP_CERTIFICATE',
    group: 'OTLP exporter',
    description: 'CA certificate file (PEM)',
  }),
  text({
    key: 'exporterOtlpClientCertificate',
    env: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
    group: 'OTLP exporter',
    description: 'client certificate file (PEM)',
  }),
  text({
    key: 'exporterOtlpClientKey',
    env: 'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    group: 'OTLP exporter',
    description: 'client key file (PEM)',
  }),
  flag({
    key: 'exporterOtlpInsecure',
    env: 'OTEL_EXPORTER_OTLP_INSECURE',
    group: 'OTLP exporter',
    description: 'grpc without TLS',
  }),
  text({
    key: 'exporterZipkinEndpoint',
    env: 'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
    group: 'Exporters',
    description: 'Zipkin URL',
  }),
  oneOf(SAMPLERS, {
    key: 'tracesSampler',
    env: 'OTEL_TRACES_SAMPLER',
    group: 'Sampling and propagation',
    description: 'which spans are kept',
  }),
  text({
    key: 'tracesSamplerArg',
    env: 'OTEL_TRACES_SAMPLER_ARG',
    group: 'Sampling and propagation',
    description: 'ratio 0..1 for the *traceidratio samplers',
  }),
  anyOf(PROPAGATORS, {
    key: 'propagators',
    env: 'OTEL_PROPAGATORS',
    group: 'Sampling and propagation',
    description: 'context headers read and written',
  }),
  limit('bspScheduleDelay', 'OTEL_BSP_SCHEDULE_DELAY', 0, 'ms between batch exports'),
  limit('bspExportTimeout', 'OTEL_BSP_EXPORT_TIMEOUT', 0, 'ms an export may take'),
  limit('bspMaxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE', 1, 'spans held before new ones are dropped'),
  limit('bspMaxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, 'spans per export'),
  limit('attributeCountLimit', 'OTEL_ATTRIBUTE_COUNT_LIMIT', 0, 'attributes per span'),
  limit(
    'attributeValueLengthLimit',
    'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    0,
    'characters per attribute value',
  ),
  limit('spanAttributeCountLimit', 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 0, 'attributes per span'),
  limit('spanAttributeValueLengthLimit', 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 0, 'characters per value'),
  limit('spanEventCountLimit', 'OTEL_SPAN_EVENT_COUNT_LIMIT', 0, 'events per span'),
  limit('spanLinkCountLimit', 'OTEL_SPAN_LINK_COUNT_LIMIT', 0, 'links per span'),
  limit(
    'spanAttributePerEventCountLimit',
    'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
    0,
    'attributes per event',
  ),
  limit(
    'spanAttributePerLinkCountLimit',
    'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
    0,
    'attributes per link',
  ),
  int({
    key: 'flushTimeout',
    env: 'OTEL_RUN_FLUSH_TIMEOUT',
    min: 0,
    max: 60_000,
    group: 'otel-run',
    description: 'ms the exit may wait for the last spans to be sent',
  }),
  flag({
    key: 'strict',
    env: 'OTEL_RUN_STRICT',
    group: 'otel-run',
    description: 'any configuration or instrumentor error stops the app (for CI)',
  }),
  oneOf(['auto', 'on', 'off'], {
    key: 'esm',
    env: 'OTEL_RUN_ESM',
    group: 'otel-run',
    description: 'when to hook ES module imports (auto: for an ES module entry or a TypeScript runner)',
  }),
  text({
    key: 'config',
    env: 'OTEL_RUN_CONFIG',
    flag: 'config',
    group: 'otel-run',
    description: 'config file to read instead of searching for one',
  }),
  text({
    key: 'otelConfigFile',
    env: 'OTEL_CONFIG_FILE',
    group: 'General',
    description:
      'OpenTelemetry configuration file (YAML, file_format 1.x): replaces every other OTEL_* setting (docs/configuration.md)',
  }),
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
export const MAX_VALUE_LENGTH = 64 * 1024;

function describeDefault(spec: RowInfo): string {
  const value = DEFAULTS[spec.key];
  if (value === undefined) return 'it is ignored';
  if (Array.isArray(value)) return `using the default ${value.join(',') || '(none)'}`;
  if (typeof value === 'object') return 'using the default (none)';
  return `using the default ${String(value)}`;
}

function showValue(spec: RowInfo, raw: string): string {
  if (spec.secret) return '(redacted)';
  // Only a bad value gets here: the redaction loads then.
  const { redactUrls } = require('../util/redact') as typeof import('../util/redact');
  return JSON.stringify(redactUrls(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw));
}

/**
 * Reads every setting from an environment. Bad values are reported to `report` and replaced by the spec
 * default, so the caller always gets a complete, valid Settings.
 */
export function readSettings(env: NodeJS.ProcessEnv, report: (p: Problem) => void = () => {}): Settings {
  const out: Settings = { ...DEFAULTS };
  for (const spec of SPECS) {
    const raw = env[spec.env];
    // Empty means unset (the spec, and the official SDK): OTEL_TRACES_EXPORTER="" is not "no exporter".
    if (raw !== undefined && raw.trim() !== '') readOne(out, spec, raw, report);
  }
  return out;
}

/** One variable into its field: the row's parser gives the field's own type (rows.ts). */
function readOne<K extends keyof Settings>(
  out: Settings,
  spec: SettingSpec<K>,
  raw: string,
  report: (p: Problem) => void,
): void {
  const source = spec.env;
  if (raw.length > MAX_VALUE_LENGTH) {
    report({
      source,
      message: `${source} is ${raw.length} characters long: too long — ${describeDefault(spec)}`,
    });
    return;
  }
  let complaint: string | undefined;
  const value = spec.parse(raw, (why) => {
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
