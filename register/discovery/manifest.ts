// Reads the "otelInstrumentor" field of a package.json into checked, normalised manifests. Anything malformed
// becomes an `invalid` manifest carrying the reason, so `otel-run list` can show it and the preload can warn:
// a third party's typo must never crash the app.
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import type { CatalogEntry } from './catalog';

export interface Manifest {
  name: string;
  /** Path relative to the package folder, or undefined for the package's main export. */
  entry?: string;
  export?: string;
  /** Target module (builtins without `node:`) to semver range. */
  targets: Record<string, string>;
  channels?: readonly string[];
  always?: boolean;
  defaultOff?: boolean;
  signal?: 'metrics';
  source: 'field' | 'catalog';
  /**
   * Catalog rows: the instrumentation version the ranges were generated from. Another version of that package
   * may support other versions of its targets: its ranges are then left to its own require hook.
   */
  rangesOf?: string;
  /** Set when the manifest cannot be used; the rest is then best effort. */
  invalid?: string;
}

// Lowercase, as upstream's names are: enable/disable lists compare names exactly.
const NAME = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9._-]+)?$/;
const PREFIXES = [
  'otel-instrumentor-',
  'otel-instrumentation-',
  'opentelemetry-instrumentation-',
  'instrumentation-',
];
const SUFFIXES = [
  '-otel-instrumentors',
  '-otel-instrumentor',
  '-instrumentors',
  '-instrumentor',
  '-instrumentations',
  '-instrumentation',
  '-otel',
];

/**
 * `@opentelemetry/instrumentation-pg` → `pg` (the name upstream uses), `otel-instrumentor-foo` → `foo`,
 * `@acme/foo-instrumentor` → `foo`; anything else → the package name without its scope.
 */
export function deriveName(packageName: string): string {
  let name = packageName.replace(/^@[^/]+\//, '').toLowerCase();
  const p = PREFIXES.find((x) => name.startsWith(x) && name.length > x.length);
  if (p) name = name.slice(p.length);
  const s = SUFFIXES.find((x) => name.endsWith(x) && name.length > x.length);
  if (s) name = name.slice(0, -s.length);
  return name;
}

export function normaliseTarget(name: string): string {
  return name.startsWith('node:') ? name.slice(5) : name;
}

export function isBuiltinTarget(name: string): boolean {
  return isBuiltin(name);
}

const PACKAGE_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i;

/** What the require hook can match: a package name, or a builtin (`node:http`, `fs/promises`). */
function isTargetName(name: string): boolean {
  return isBuiltin(name) || PACKAGE_NAME.test(name);
}

function checkEntry(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry === '') return 'entry must be a non-empty string';
  if (path.isAbsolute(entry) || /^[a-z]:/i.test(entry))
    return `entry ${JSON.stringify(entry)} must be relative`;
  const normal = path.posix.normalize(entry.replace(/\\/g, '/'));
  if (normal === '..' || normal.startsWith('../')) {
    return `entry ${JSON.stringify(entry)} points outside the package`;
  }
  return undefined;
}

function fromObject(packageName: string, raw: unknown, index: number, count: number): Manifest {
  const fallbackName =
    count > 1 && index > 0 ? `${deriveName(packageName)}-${index + 1}` : deriveName(packageName);
  const manifest: Manifest = { name: fallbackName, targets: {}, source: 'field' };
  if (typeof raw === 'string') {
    const bad = checkEntry(raw);
    if (bad) manifest.invalid = bad;
    else manifest.entry = raw;
    return manifest;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    manifest.invalid = 'otelInstrumentor must be a string (entry), an object or an array of them';
    return manifest;
  }
  const field = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (field.name !== undefined) {
    if (typeof field.name === 'string' && NAME.test(field.name)) manifest.name = field.name;
    else
      problems.push(
        `name ${JSON.stringify(field.name)} is not a valid name (lowercase letters, digits, . _ -)`,
      );
  }
  if (field.entry !== undefined) {
    const bad = checkEntry(field.entry);
    if (bad) problems.push(bad);
    else manifest.entry = field.entry as string;
  }
  if (field.export !== undefined) {
    if (typeof field.export === 'string' && field.export) manifest.export = field.export;
    else problems.push('export must be a non-empty string');
  }
  if (field.instruments !== undefined) {
    if (
      field.instruments === null ||
      typeof field.instruments !== 'object' ||
      Array.isArray(field.instruments)
    ) {
      problems.push('instruments must be an object of module name to semver range');
    } else {
      for (const [target, range] of Object.entries(field.instruments as Record<string, unknown>)) {
        if (!isTargetName(target)) {
          problems.push(
            `instruments key ${JSON.stringify(target)} must be a package name (not a path inside one) or a Node builtin`,
          );
          continue;
        }
        if (typeof range !== 'string') {
          problems.push(`instruments[${JSON.stringify(target)}] must be a semver range string`);
          continue;
        }
        manifest.targets[normaliseTarget(target)] = range;
      }
    }
  }
  if (field.defaultOff !== undefined) {
    if (typeof field.defaultOff === 'boolean') manifest.defaultOff = field.defaultOff;
    else problems.push('defaultOff must be true or false');
  }
  if (problems.length) manifest.invalid = problems.join('; ');
  return manifest;
}

/** Manifests a package declares through its own field. */
export function readField(packageName: string, value: unknown): Manifest[] {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) {
    return [
      { name: deriveName(packageName), targets: {}, source: 'field', invalid: 'otelInstrumentor is empty' },
    ];
  }
  return items.map((item, i) => fromObject(packageName, item, i, items.length));
}

export function fromCatalog(entry: CatalogEntry): Manifest {
  return {
    name: entry.name,
    export: entry.export,
    targets: { ...entry.targets },
    channels: entry.channels,
    always: entry.always,
    defaultOff: entry.defaultOff,
    signal: entry.signal,
    source: 'catalog',
    rangesOf: entry.version,
  };
}

/**
 * Whether the ranges decide: always for a package's own field (it states its ranges for the version installed);
 * for a catalog row only when the installed instrumentation is the version the row was generated from. A newer
 * release may support a newer library (express 6): refusing it on an older copy of its range would overrule the
 * package, so it is loaded and its own require hook, which knows its ranges, decides.
 */
export function rangesGate(manifest: Manifest, installedVersion: string): boolean {
  return manifest.source === 'field' || manifest.rangesOf === installedVersion;
}
