// Packages otel-run can use but does not install: the gRPC exporters weigh 13.5 MB with @grpc/grpc-js and
// protobufjs, and protobufjs' install script makes `pnpm add otel-run` fail where pnpm >= 10 asks for build
// approval. Most users send OTLP over HTTP; the few who select grpc install the exporter beside their app.
import * as path from 'node:path';

/** The line of the exporters that match otel-run's SDK (2.x SDK, 0.2xx exporters). */
const EXPORTERS_VERSION = '0.223.0';

/** Loads `name` from otel-run's own install, else from the app's (entry and cwd); throws a message naming the fix. */
export function requireOptional<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String(err).includes(`'${name}'`))
      throw err;
  }
  const from = [process.argv[1] ? path.dirname(process.argv[1]) : undefined, process.cwd()].filter(
    (p): p is string => !!p,
  );
  let file: string;
  try {
    file = require.resolve(name, { paths: from });
  } catch {
    throw new Error(
      `${name} is not installed (otel-run does not ship the gRPC exporters) — install it in the app: npm install ${name}@${EXPORTERS_VERSION}, or use OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`,
    );
  }
  return require(file) as T;
}
