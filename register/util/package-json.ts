// "The nearest package.json" as Node looks it up: from a folder upwards to the filesystem root. The service
// name, an ES module's "type", the project root of a config search, doctor and bootstrap all ask this one
// question; one walk keeps their answers the same.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface NearestPackage {
  /** The folder holding the package.json. */
  readonly dir: string;
  /** Its parsed contents, or undefined when the file could not be parsed (the reason is in `error`). */
  readonly json?: Record<string, unknown>;
  readonly error?: unknown;
}

export interface FindOptions {
  /** Stop (and find nothing) on reaching a `node_modules` folder: a package's own files are not the app's. */
  readonly stopAtNodeModules?: boolean;
}

/** The nearest package.json from `startDir` up, read and parsed; undefined when there is none. */
export function findNearestPackage(startDir: string, options: FindOptions = {}): NearestPackage | undefined {
  let dir = path.resolve(startDir);
  for (;;) {
    if (options.stopAtNodeModules && path.basename(dir) === 'node_modules') return undefined;
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return { dir, error: err };
    }
    if (text !== undefined) {
      try {
        const json = JSON.parse(text) as unknown;
        if (json && typeof json === 'object' && !Array.isArray(json)) {
          return { dir, json: json as Record<string, unknown> };
        }
        return { dir, error: new Error('package.json is not an object') };
      } catch (err) {
        return { dir, error: err };
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The package.json of the package `name` from `startDir` up: for a package whose "exports" hides its
 * package.json (@opentelemetry/api), found from the file require.resolve gave. A nested package.json on the
 * way (a build folder's `{"type": "module"}`) is walked past.
 */
export function findOwningPackage(startDir: string, name: string): NearestPackage | undefined {
  let dir = startDir;
  for (;;) {
    const found = findNearestPackage(dir);
    if (!found) return undefined;
    if (found.json?.name === name) return found;
    const parent = path.dirname(found.dir);
    if (parent === found.dir) return undefined;
    dir = parent;
  }
}

/** The folder of the nearest package.json from `startDir` up (existence only, nothing parsed). */
export function findPackageRoot(startDir: string): string | undefined {
  let dir = path.resolve(startDir);
  for (;;) {
    if (exists(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** existsSync, except that it throws under Node's permission model for a path outside --allow-fs-read. */
function exists(file: string): boolean {
  try {
    return fs.existsSync(file);
  } catch {
    return false;
  }
}

/** A package.json read and parsed, or undefined when it is missing or malformed. */
export function readPackageJson(dir: string): Record<string, unknown> | undefined {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as unknown;
    return json && typeof json === 'object' && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
