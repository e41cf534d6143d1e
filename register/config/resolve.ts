// The one precedence of a setting's value, for the CLI (run, list, env, doctor) and the preload used alone:
//   flag > OTEL_* variable > --verbose's default > config file > --view's defaults > the table's default.
// --verbose counts as a flag that an explicit variable still beats (OTEL_LOG_LEVEL=debug stays debug);
// --view turns metrics and logs off only where nothing else sets them. Resource attributes merge key by key
// across flag, variable and file (the higher source wins per key); every other setting comes whole from the
// highest source that has it. An empty variable counts as unset, as the spec says.
import { parseKeyValueList, SPECS } from '../settings/table';
import type { Instrumentations } from './validate';

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface Origin {
  source: Source;
  /** The raw text as given; absent for defaults. */
  raw?: string;
  /** For `file`: the config file's path. */
  file?: string;
}

type Vars = Readonly<Record<string, string | undefined>>;

export interface Layers {
  /** The variables the command-line flags set. */
  readonly flags?: Vars;
  /** The environment the command runs in. */
  readonly env: Vars;
  /** Set by a flag, but only where the environment says nothing: --verbose's OTEL_LOG_LEVEL=info. */
  readonly flagDefaults?: Vars;
  /** The config file's settings, as the variables they stand for. */
  readonly file?: { readonly path: string; readonly vars: Vars };
  /** Set by a flag, but only where nothing else says anything: --view's OTEL_METRICS_EXPORTER=none. */
  readonly viewDefaults?: Vars;
}

export interface Layered {
  /** Every setting some layer gives, as its variable: what a child process gets. */
  vars: Record<string, string>;
  /** Where each setting's value comes from. */
  origins: Record<string, Origin>;
}

function given(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

export function resolveLayers(layers: Layers): Layered {
  // Highest first.
  const order: Array<{ vars: Vars | undefined; source: Source; file?: string }> = [
    { vars: layers.flags, source: 'flag' },
    { vars: layers.env, source: 'env' },
    { vars: layers.flagDefaults, source: 'flag' },
    { vars: layers.file?.vars, source: 'file', file: layers.file?.path },
    { vars: layers.viewDefaults, source: 'flag' },
  ];
  const out: Layered = { vars: {}, origins: {} };
  for (const spec of SPECS) {
    const found = order
      .map((l) => ({ ...l, raw: l.vars?.[spec.env] }))
      .filter((l): l is typeof l & { raw: string } => given(l.raw));
    const top = found[0];
    if (!top) {
      out.origins[spec.env] = { source: 'default' };
      continue;
    }
    out.origins[spec.env] =
      top.source === 'file'
        ? { source: 'file', raw: top.raw, file: top.file }
        : { source: top.source, raw: top.raw };
    if (spec.key === 'resourceAttributes' && found.length > 1) {
      const merged: Record<string, string> = {};
      for (const l of [...found].reverse())
        Object.assign(
          merged,
          parseKeyValueList(l.raw, () => {}),
        );
      out.vars[spec.env] = Object.entries(merged)
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
        .join(',');
    } else {
      out.vars[spec.env] = top.raw;
    }
  }
  return out;
}

/** Per-instrumentor options from several sources, lowest first: merged per instrumentor, key by key. */
export function layerInstrumentations(layers: ReadonlyArray<Instrumentations | undefined>): Instrumentations {
  const out: Instrumentations = {};
  for (const layer of layers) {
    for (const [name, options] of Object.entries(layer ?? {})) {
      if (options && typeof options === 'object' && !Array.isArray(options))
        out[name] = { ...out[name], ...options };
    }
  }
  return out;
}

/** OTEL_RUN_INSTRUMENTATIONS, parsed; problems go to `bad`. */
export function parseInstrumentationsEnv(
  raw: string | undefined,
  bad: (why: string) => void,
): Instrumentations | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Instrumentations;
    bad('not a JSON object');
  } catch (err) {
    bad(`not valid JSON (${(err as Error).message})`);
  }
  return undefined;
}
