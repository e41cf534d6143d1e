// Collects a metric reader's data without the event loop, for the exit paths where no turn is left
// (process.exit(), an uncaught exception, a re-raised signal). The SDK's `MetricReader.collect()` is a
// promise chain (observable callbacks may be async), and after process.exit() not even microtasks run, so
// it can never resolve there. This walks the same state the SDK's MetricCollector walks
// (sdk-metrics 2.12.0, pinned: MeterProviderSharedState → MeterSharedState → storages), calling observable
// callbacks synchronously (an async callback contributes what it observed before its first await). Any
// shape it does not recognise makes it give up, and the caller reports the metrics as lost.
import type { MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';

// SDK internals, checked at each step.
type Any = any;

function quiet(result: unknown): void {
  const p = result as { then?: unknown; catch?: (f: () => void) => unknown } | undefined;
  if (p && typeof p.then === 'function' && typeof p.catch === 'function') p.catch(() => {});
}

function observe(registry: Any, time: unknown, results: Any): void {
  for (const { callback, instrument } of registry._callbacks as Any[]) {
    try {
      const result = new results.ObservableResultImpl(
        instrument._descriptor.name,
        instrument._descriptor.valueType,
      );
      quiet(callback(result));
      for (const storage of instrument._metricStorages) storage.record(result._buffer, time);
    } catch {
      // One failing callback loses its own observations, as in the SDK.
    }
  }
  for (const { callback, instruments } of registry._batchCallbacks as Any[]) {
    try {
      const result = new results.BatchObservableResultImpl();
      quiet(callback(result));
      for (const instrument of instruments) {
        const buffer = result._buffer.get(instrument);
        if (buffer == null) continue;
        for (const storage of instrument._metricStorages) storage.record(buffer, time);
      }
    } catch {}
  }
}

/** The reader's data as `collect()` would return it, or undefined when the SDK's internals are not as known. */
export function collectSync(reader: MetricReader): ResourceMetrics | undefined {
  const collector = (reader as Any)._sdkMetricProducer;
  const shared = collector?._sharedState;
  if (!shared?.meterSharedStates || typeof shared.meterSharedStates.values !== 'function') return undefined;
  const results = require('@opentelemetry/sdk-metrics/build/src/ObservableResult') as Any;
  const { millisToHrTime } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const time = millisToHrTime(Date.now());
  const scopeMetrics: ResourceMetrics['scopeMetrics'] = [];
  for (const meter of shared.meterSharedStates.values() as Iterable<Any>) {
    if (!meter?.observableRegistry || !meter.metricStorageRegistry) return undefined;
    observe(meter.observableRegistry, time, results);
    const metrics = [];
    for (const storage of meter.metricStorageRegistry.getStorages(collector) as Any[]) {
      const data = storage.collect(collector, time);
      if (data != null) metrics.push(data);
    }
    if (metrics.length) scopeMetrics.push({ scope: meter._instrumentationScope, metrics });
  }
  return { resource: shared.resource, scopeMetrics };
}
