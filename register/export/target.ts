// Where each signal's OTLP exporter sends, after the spec's rules (OpenTelemetry "OTLP Exporter
// Configuration"): a signal's own variable wins over the generic OTEL_EXPORTER_OTLP_* one, which wins over the
// default. Only the generic endpoint is a base URL that gets `/v1/<signal>` appended (over HTTP); a signal's
// own endpoint is used as it is. The exporters, the startup line and `otel-run doctor` all ask this one rule.
import type { Settings } from '../settings/table';
import { redactUrls } from '../util/redact';
import type { TlsFiles } from './tls';

export type Signal = 'traces' | 'metrics' | 'logs';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export interface OtlpTarget {
  protocol: OtlpProtocol;
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: 'gzip' | 'none';
  /** PEM file paths for https endpoints (one set for every signal: the spec's per-signal ones are not read). */
  tls: TlsFiles;
  /** OTEL_EXPORTER_OTLP_INSECURE (gRPC without TLS). */
  insecure?: boolean;
}

const DEFAULT_HTTP = 'http://localhost:4318';
const DEFAULT_GRPC = 'http://localhost:4317';

/** A signal's own settings, under the names the settings table gives them. */
function own(s: Settings, signal: Signal) {
  switch (signal) {
    case 'traces':
      return {
        endpoint: s.exporterOtlpTracesEndpoint,
        protocol: s.exporterOtlpTracesProtocol,
        headers: s.exporterOtlpTracesHeaders,
        timeout: s.exporterOtlpTracesTimeout,
        compression: s.exporterOtlpTracesCompression,
      };
    case 'metrics':
      return {
        endpoint: s.exporterOtlpMetricsEndpoint,
        protocol: s.exporterOtlpMetricsProtocol,
        headers: s.exporterOtlpMetricsHeaders,
        timeout: s.exporterOtlpMetricsTimeout,
        compression: s.exporterOtlpMetricsCompression,
      };
    case 'logs':
      return {
        endpoint: s.exporterOtlpLogsEndpoint,
        protocol: s.exporterOtlpLogsProtocol,
        headers: s.exporterOtlpLogsHeaders,
        timeout: s.exporterOtlpLogsTimeout,
        compression: s.exporterOtlpLogsCompression,
      };
  }
}

export function otlpTarget(s: Settings, signal: Signal): OtlpTarget {
  const mine = own(s, signal);
  const protocol = (mine.protocol ?? s.exporterOtlpProtocol) as OtlpProtocol;
  const grpc = protocol === 'grpc';
  let url = mine.endpoint;
  if (!url) {
    const base = s.exporterOtlpEndpoint || (grpc ? DEFAULT_GRPC : DEFAULT_HTTP);
    url = grpc ? base : `${base.replace(/\/+$/, '')}/v1/${signal}`;
  }
  return {
    protocol,
    url,
    headers: { ...s.exporterOtlpHeaders, ...mine.headers },
    timeoutMillis: mine.timeout ?? s.exporterOtlpTimeout,
    compression: (mine.compression ?? s.exporterOtlpCompression) === 'gzip' ? 'gzip' : 'none',
    tls: {
      ca: s.exporterOtlpCertificate,
      cert: s.exporterOtlpClientCertificate,
      key: s.exporterOtlpClientKey,
    },
    insecure: s.exporterOtlpInsecure,
  };
}

/** For messages: `otlp http/protobuf to http://…/v1/traces`. */
export function targetLabel(t: OtlpTarget): string {
  return `otlp ${t.protocol} to ${redactUrls(t.url)}`;
}
