// The Prometheus pull endpoint. The exporter's own server cannot listen on port 0 (it reads
// `config.port || OTEL_EXPORTER_PROMETHEUS_PORT || 9464`: 0 is falsy, so 9464), so otel-run serves the
// exporter's request handler from its own server: any port works, and the bound address is known. The
// server is unref'd (it never keeps the app alive) and its requests bypass the http instrumentation, so a
// scrape every 15 s does not make a trace every 15 s.
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import * as log from '../util/stderr';

export const METRICS_PATH = '/metrics';

/** The unwrapped `emit` (shimmer keeps the original of a wrapped function under `__original`). */
function plainEmit(proto: { emit: Function }): Function {
  let emit = proto.emit as Function & { __original?: Function };
  while (typeof emit.__original === 'function')
    emit = emit.__original as Function & { __original?: Function };
  return emit;
}

/** Starts serving; `onListening` receives the URL scrapers use (also logged at info level). */
export function servePrometheus(
  exporter: PrometheusExporter,
  resource: { asyncAttributesPending?: boolean; waitForAsyncAttributes?: () => Promise<void> },
  host: string | undefined,
  port: number,
  onListening: (url: string) => void = () => {},
): void {
  const http = require('node:http') as typeof import('node:http');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === METRICS_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      // The first scrape may come before the detectors' asynchronous attributes (host.id) are in.
      if (resource.asyncAttributesPending && resource.waitForAsyncAttributes) {
        const go = () => exporter.getMetricsRequestHandler(req, res);
        resource.waitForAsyncAttributes().then(go, go);
      } else {
        exporter.getMetricsRequestHandler(req, res);
      }
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  (server as unknown as { emit: Function }).emit = plainEmit(http.Server.prototype as never);
  const where = `${host ?? 'all interfaces'}, port ${port}`;
  server.on('error', (err) => {
    log.warn(`serving Prometheus metrics (${where}) failed: ${log.reason(err)} — metrics are not served`);
  });
  server.listen({ port, host }, () => {
    const address = server.address();
    if (!address || typeof address === 'string') return;
    const shown = host && host !== '0.0.0.0' && host !== '::' ? host : '127.0.0.1';
    const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}${METRICS_PATH}`;
    log.info(`Prometheus metrics at ${url}`);
    onListening(url);
  });
  server.unref();
}
