// An OTLP/gRPC trace receiver for the exporter tests: the TraceService/Export method served by grpc-js with
// the protobuf decoders the HTTP receiver uses, so both receivers yield the same flattened spans.
import type { ReceivedSpan } from './otlp-receiver';
import { decodeBody, flattenSpans } from './otlp-receiver';

type Grpc = typeof import('@grpc/grpc-js');

export interface GrpcReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Each request's metadata (the OTLP headers over gRPC). */
  metadata: Array<Record<string, unknown>>;
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startGrpcReceiver(): Promise<GrpcReceiver> {
  const grpc = require('@grpc/grpc-js') as Grpc;
  const server = new grpc.Server();
  const spans: ReceivedSpan[] = [];
  const metadata: Array<Record<string, unknown>> = [];
  const identity = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: () => Buffer.alloc(0),
        responseDeserialize: identity,
      },
    },
    {
      Export: (
        call: { request: Buffer; metadata: { getMap(): Record<string, unknown> } },
        callback: (err: Error | null, value: unknown) => void,
      ) => {
        try {
          metadata.push(call.metadata.getMap());
          const decoded = decodeBody('traces', 'application/x-protobuf', call.request);
          spans.push(...flattenSpans(decoded as never, 'application/grpc'));
          callback(null, {});
        } catch (err) {
          callback(err as Error, null);
        }
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metadata,
    async waitForSpans(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) {
          throw new Error(`gRPC receiver: timed out; spans so far: ${spans.map((s) => s.name).join(', ')}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      return spans;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
