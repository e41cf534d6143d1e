// The one line each traced process prints under OTEL_LOG_LEVEL=info (`otel-run --verbose`): version, service,
// where spans go, and which instrumentors are armed. Printed at start, not when the SDK is built: the SDK
// and each instrumentor load lazily (at the first require of their library), so "at SDK creation" would print
// nothing for a process that never makes a span and would come after the app's own first output. The names
// listed are the planned ones: exactly those that activate when their library is first required.

import type { Planned } from './discovery/plan';
import { otlpTarget, targetLabel } from './export/target';
import { appPackage, resolveServiceName } from './sdk/service-name';
import { selected } from './settings/endpoints';
import type { Settings } from './settings/table';
import * as log from './util/stderr';

export interface StartupFacts {
  version: string;
  settings: Settings;
  planned: Planned[];
  slots: { label: string }[];
  entry?: string;
  cwd: string;
  pid: number;
}

function signalExporters(s: Settings, signal: 'metrics' | 'logs'): string {
  const names = selected(signal === 'metrics' ? s.metricsExporter : s.logsExporter);
  const labels = names.map((name) => {
    return name === 'otlp' ? targetLabel(otlpTarget(s, signal)) : name;
  });
  return labels.join(', ') || 'none';
}

export function startupLine(f: StartupFacts): string {
  const enabled = f.planned.filter((p) => p.status === 'enabled').map((p) => p.name);
  const exporters = f.slots.map((s) => s.label).join(', ') || 'none';
  return [
    `v${f.version} in pid ${f.pid}`,
    `service ${resolveServiceName(f.settings, appPackage(f.entry, f.cwd)).name}`,
    `traces to ${exporters}`,
    `metrics to ${signalExporters(f.settings, 'metrics')}`,
    `logs to ${signalExporters(f.settings, 'logs')}`,
    `instrumentors ${enabled.length ? enabled.sort().join(', ') : '(none)'}`,
  ].join('; ');
}

/** Prints the line (callers check `log.isEnabled('info')` first, so a default start pays nothing). */
export function logStartup(settings: Settings, planned: Planned[], version: string): void {
  try {
    const { createTraceSlots } = require('./export/trace-slots') as typeof import('./export/trace-slots');
    log.info(
      startupLine({
        version,
        settings,
        planned,
        slots: createTraceSlots(settings),
        entry: process.argv[1],
        cwd: process.cwd(),
        pid: process.pid,
      }),
    );
  } catch (err) {
    log.debug(`startup line not printed: ${log.reason(err)}`);
  }
}
