// Which release line of a contrib instrumentation to install: the Node version decides, because the 0.30x
// line (3.x core) requires Node >= 22.15 while the 0.2xx line the catalog was generated from runs on Node 20.
// Shared by the preload's "named but not installed" warning and `otel-run bootstrap`.
import { CATALOG, type CatalogEntry, NEXT_LINE_NODE } from './catalog';

/** Numeric x.y.z order: enough for Node's own versions, without loading semver. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export interface Line {
  /** `0.2xx` (the catalog's own versions) or `0.30x` (the newest auto-instrumentations-node's). */
  name: '0.2xx' | '0.30x';
  /** The Node versions it runs on. */
  node: string;
}

export function lineFor(nodeVersion: string = process.versions.node): Line {
  return compareVersions(nodeVersion, NEXT_LINE_NODE) >= 0
    ? { name: '0.30x', node: `>=${NEXT_LINE_NODE}` }
    : { name: '0.2xx', node: `<${NEXT_LINE_NODE}` };
}

/** The version (or range, for the 0.30x line) to install on this Node. */
export function pinOf(entry: CatalogEntry, nodeVersion: string = process.versions.node): string {
  return lineFor(nodeVersion).name === '0.30x' && entry.next ? entry.next : entry.version;
}

export function catalogByName(name: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.name === name);
}
