// Where a config file may be: the one list of places, and the cheap look for one that every preloaded process
// pays. From the working directory up to the project root (the folder of the nearest package.json; the
// filesystem root when there is none), each folder is listed once and the places below are taken in this
// order. Nothing is read unless it is there. A file whose name looks like a config file otel-run does not read
// (`otel-run.config.json`) is a near miss: the CLI and the preload say so instead of ignoring it in silence.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPackageRoot } from '../util/package-json';

export const MODULE_NAME = 'otel-run';

/**
 * cosmiconfig's default places for `otel-run` (the convention users know from other tools), minus
 * `.config/…` and `.ts` (a TypeScript compiler in every process is not cheap).
 */
export const SEARCH_PLACES: readonly string[] = [
  'package.json',
  `.${MODULE_NAME}rc`,
  `.${MODULE_NAME}rc.json`,
  `.${MODULE_NAME}rc.yaml`,
  `.${MODULE_NAME}rc.yml`,
  `.${MODULE_NAME}rc.js`,
  `.${MODULE_NAME}rc.cjs`,
  `.${MODULE_NAME}rc.mjs`,
  `${MODULE_NAME}.config.js`,
  `${MODULE_NAME}.config.cjs`,
  `${MODULE_NAME}.config.mjs`,
];

/** The places in a sentence, for hints and the schema's description. */
export function describePlaces(): string {
  const extensions = (stem: string) =>
    SEARCH_PLACES.filter((p) => p.startsWith(`${stem}.`)).map((p) => p.slice(stem.length));
  const rc = `.${MODULE_NAME}rc`;
  const config = `${MODULE_NAME}.config`;
  return `${rc}(${extensions(rc).join('|')}), ${config}(${extensions(config).join('|')}) or an "${MODULE_NAME}" key in package.json`;
}

/** A file named like a config file that otel-run does not read, and the name to give it. */
export interface NearMiss {
  readonly file: string;
  readonly rename: string;
}

// `otel-run.config.json`, `.otel-runrc.ts`, `otelrunrc`, `.otel-run.yaml`, … (not `otel-run.js`: that may be
// a script of the app's own).
const NEAR_MISS = [
  /^\.?otel[-_]?runrc(\.[a-z0-9]+)?$/i,
  /^\.?otel[-_]?run[.-]config\.[a-z0-9]+$/i,
  /^\.?otel[-_]?run\.(json5?|jsonc|ya?ml|toml)$/i,
];

const PLACES = new Set(SEARCH_PLACES);

/** The name a near miss should have, from its extension. */
function renameTo(name: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (ext === undefined || /rc$/i.test(name)) return `.${MODULE_NAME}rc`;
  if (ext.startsWith('json')) return `.${MODULE_NAME}rc.json`;
  if (ext === 'yaml' || ext === 'yml') return `.${MODULE_NAME}rc.${ext}`;
  if (ext === 'js' || ext === 'cjs' || ext === 'mjs') return `${MODULE_NAME}.config.${ext}`;
  if (ext === 'ts' || ext === 'cts' || ext === 'mts')
    return `${MODULE_NAME}.config.mjs (TypeScript is not read)`;
  return `.${MODULE_NAME}rc.yaml (${ext} is not read)`;
}

function isNearMiss(name: string): boolean {
  return /otel/i.test(name) && !PLACES.has(name) && NEAR_MISS.some((re) => re.test(name));
}

function isFile(file: string): fs.Stats | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? st : undefined;
}

/** The names in a folder, or undefined when it cannot be listed (then each place is looked at by itself). */
function listFolder(dir: string): Set<string> | undefined {
  try {
    return new Set(fs.readdirSync(dir));
  } catch {
    return undefined;
  }
}

/** A package.json counts only when it has an "otel-run" key (cosmiconfig's packageProp). */
function packageHasKey(file: string, texts?: Map<string, string>): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  // Kept for the loader: the file is read once.
  texts?.set(file, text);
  // Most package.json files never mention us: skip the parse for them.
  if (!text.includes(`"${MODULE_NAME}"`)) return false;
  try {
    const json = JSON.parse(text) as Record<string, unknown> | null;
    return !!json && typeof json === 'object' && json[MODULE_NAME] != null;
  } catch {
    // Broken: the loader reports it with its line.
    return true;
  }
}

/**
 * The config files that may apply from `cwd`, nearest first (usually zero or one). Empty files are skipped;
 * the caller loads the first and moves on to the next only if it holds nothing. Near misses of each folder
 * looked at go to `nearMiss` before that folder's files.
 */
export function* configCandidates(
  cwd: string,
  nearMiss?: (miss: NearMiss) => void,
  texts?: Map<string, string>,
): Generator<string> {
  const root = findPackageRoot(cwd);
  let dir = path.resolve(cwd);
  for (;;) {
    const names = listFolder(dir);
    if (names && nearMiss) {
      for (const name of names) {
        if (isNearMiss(name) && isFile(path.join(dir, name)))
          nearMiss({ file: path.join(dir, name), rename: renameTo(name) });
      }
    }
    for (const place of SEARCH_PLACES) {
      if (names && !names.has(place)) continue;
      const file = path.join(dir, place);
      const st = isFile(file);
      if (!st) continue;
      if (place === 'package.json') {
        if (packageHasKey(file, texts)) yield file;
      } else if (st.size > 0) {
        yield file;
      }
    }
    if (dir === root) return;
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** The first config file from `cwd`, or undefined: the whole cost when there is none is the look above. */
export function findConfigFile(cwd: string): string | undefined {
  for (const file of configCandidates(cwd)) return file;
  return undefined;
}

/** What to load: the file named (`--config` / OTEL_RUN_CONFIG, relative to `cwd`), else what was found. */
export interface Search {
  readonly files: readonly string[];
  readonly named: boolean;
  readonly nearMisses: readonly NearMiss[];
  /** The texts the search already read (a package.json, to see its "otel-run" key): not read again. */
  readonly texts: ReadonlyMap<string, string>;
}

export function searchConfig(cwd: string, named?: string): Search {
  const texts = new Map<string, string>();
  const given = named?.trim();
  if (given) return { files: [path.resolve(cwd, given)], named: true, nearMisses: [], texts };
  const nearMisses: NearMiss[] = [];
  const files = [...configCandidates(cwd, (m) => nearMisses.push(m), texts)];
  return { files, named: false, nearMisses, texts };
}
