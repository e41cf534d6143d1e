// OTEL_CONFIG_FILE for the CLI's reports (`doctor`, `env`, `list`): the same reading and mapping as the
// preload (register/otel-config/), so what they show is what a run does, with where each value came from:
// the file, its line and key. Loaded only when the variable (or --otel-config-file) is set.

import type { Origin } from '../../register/config/resolve';
import { ownLayer } from '../../register/otel-config/apply';
import { mapModel } from '../../register/otel-config/map';
import { OtelConfigError, parseOtelConfigFile } from '../../register/otel-config/parse';
import {
  type Problem,
  readSettings,
  type SettingSpec,
  type Settings,
  SPECS,
} from '../../register/settings/table';

/** The part of src/common/config.ts's Resolved this file reads and replaces. */
interface ResolvedLike {
  settings: Settings;
  origins: Record<string, Origin>;
  vars: Record<string, string>;
  problems: Problem[];
}

export interface OtelConfigView {
  /** Absolute path. */
  file: string;
  settings: Settings;
  origins: Record<string, Origin>;
  problems: Problem[];
  /** Per-instrumentor options of the file's `instrumentation/development` → `js`. */
  instrumentations: Record<string, Record<string, unknown>>;
}

export function readOtelConfigView(vars: NodeJS.ProcessEnv, cwd: string): OtelConfigView {
  const given = (vars.OTEL_CONFIG_FILE ?? '').trim();
  const base = readSettings(ownLayer(vars));
  try {
    const parsed = parseOtelConfigFile(given, cwd, vars);
    const mapped = mapModel(parsed, base, vars);
    const origins: Record<string, Origin> = {};
    for (const [name, o] of Object.entries(mapped.origins))
      origins[name] = {
        source: 'file',
        file: `${parsed.file}${o.line === undefined ? '' : `:${o.line}`} (${o.key})`,
      };
    // What otel-run does not support is a warning in doctor, not a problem (`level`, read by doctor).
    const problems = [
      ...parsed.warnings.map((f) => ({ ...f, kind: 'error' as const })),
      ...mapped.findings,
    ].map((f) => ({
      source: `${parsed.file}${f.line === undefined ? '' : `:${f.line}`} ${f.key}`,
      message: `${f.key}: ${f.message}`,
      ...(f.kind === 'gap' ? { level: 'warn' as const } : {}),
    }));
    return {
      file: parsed.file,
      settings: mapped.settings,
      origins,
      problems,
      instrumentations: mapped.instrumentations,
    };
  } catch (err) {
    const e = err instanceof OtelConfigError ? err : undefined;
    return {
      file: e?.file ?? given,
      settings: { ...base, sdkDisabled: true },
      origins: {},
      problems: [
        {
          source: 'OTEL_CONFIG_FILE',
          message: `${e ? e.message : `${given}: ${(err as Error).message}`} — the app runs untraced`,
        },
      ],
      instrumentations: {},
    };
  }
}

/** `resolved` with the file in place of the OTEL_* layer: otel-run's own settings keep their origins. */
export function withOtelConfig<R extends ResolvedLike>(resolved: R, cwd: string): R {
  const view = readOtelConfigView(resolved.vars, cwd);
  const own = ownLayer(resolved.vars);
  const origins: Record<string, Origin> = {};
  for (const spec of SPECS) {
    const before = resolved.origins[spec.env];
    if (spec.env in own && before) origins[spec.env] = before;
    else origins[spec.env] = view.origins[spec.env] ?? { source: 'default' };
  }
  origins.OTEL_CONFIG_FILE = { ...(resolved.origins.OTEL_CONFIG_FILE ?? { source: 'env' }), raw: view.file };
  return {
    ...resolved,
    settings: view.settings,
    origins,
    vars: { ...resolved.vars, OTEL_CONFIG_FILE: view.file },
    problems: [...resolved.problems.filter((p) => p.source in own), ...view.problems],
  };
}

/**
 * For `otel-run env`: comment lines (valid in a shell script, a Dockerfile and YAML) saying which effective
 * values the file gives and where in it. The file itself must travel with the app: its path is printed.
 */
export function otelConfigComments(
  vars: NodeJS.ProcessEnv,
  cwd: string,
  displayValue: (spec: SettingSpec, settings: Settings) => string,
): string[] {
  const view = readOtelConfigView(vars, cwd);
  const lines = [
    `# OTEL_CONFIG_FILE ${view.file} configures the SDK: the OTEL_* variables count only through \${…} in it.`,
  ];
  for (const spec of SPECS) {
    const origin = view.origins[spec.env];
    if (!origin) continue;
    lines.push(`#   ${spec.env}=${displayValue(spec, view.settings)}  from ${origin.file}`);
  }
  for (const p of view.problems) lines.push(`#   problem: ${p.message}`);
  return lines;
}
