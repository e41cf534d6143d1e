// Samplers as a structure: OTEL_TRACES_SAMPLER's names are fixed compositions of it, and the OpenTelemetry
// configuration file (register/otel-config/) composes it freely (parent_based with a sampler for each kind
// of parent). One builder serves both.
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';

export type SamplerSpec =
  | { type: 'always_on' }
  | { type: 'always_off' }
  | { type: 'trace_id_ratio_based'; ratio: number }
  | {
      type: 'parent_based';
      root: SamplerSpec;
      remoteParentSampled?: SamplerSpec;
      remoteParentNotSampled?: SamplerSpec;
      localParentSampled?: SamplerSpec;
      localParentNotSampled?: SamplerSpec;
    };

function ratio(settings: Settings): number {
  const raw = settings.tracesSamplerArg;
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    log.warn(
      `OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(raw)} is not valid: expected a number from 0 to 1 — using 1`,
    );
    return 1;
  }
  return n;
}

/** OTEL_TRACES_SAMPLER (+ _ARG) as a structure. */
export function samplerFromSettings(settings: Settings): SamplerSpec {
  switch (settings.tracesSampler) {
    case 'always_on':
      return { type: 'always_on' };
    case 'always_off':
      return { type: 'always_off' };
    case 'traceidratio':
      return { type: 'trace_id_ratio_based', ratio: ratio(settings) };
    case 'parentbased_always_off':
      return { type: 'parent_based', root: { type: 'always_off' } };
    case 'parentbased_traceidratio':
      return { type: 'parent_based', root: { type: 'trace_id_ratio_based', ratio: ratio(settings) } };
    default:
      return { type: 'parent_based', root: { type: 'always_on' } };
  }
}

export function buildSampler(spec: SamplerSpec): Sampler {
  const base = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  switch (spec.type) {
    case 'always_on':
      return new base.AlwaysOnSampler();
    case 'always_off':
      return new base.AlwaysOffSampler();
    case 'trace_id_ratio_based':
      return new base.TraceIdRatioBasedSampler(spec.ratio);
    case 'parent_based': {
      const opt = (s: SamplerSpec | undefined) => (s ? buildSampler(s) : undefined);
      return new base.ParentBasedSampler({
        root: buildSampler(spec.root),
        remoteParentSampled: opt(spec.remoteParentSampled),
        remoteParentNotSampled: opt(spec.remoteParentNotSampled),
        localParentSampled: opt(spec.localParentSampled),
        localParentNotSampled: opt(spec.localParentNotSampled),
      });
    }
  }
}
