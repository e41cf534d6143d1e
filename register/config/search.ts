// Where a config file may be: the one list of places, and the cheap look for one that every preloaded process
// pays. From the working directory up to the project root (the folder of the nearest package.json), the places
// below are looked at in this order, one stat each; nothing is read unless it is there. A few names people give
// a config file that otel-run does not read (`otel-run.config.json`) are near misses: the CLI and the preload
// say so instead of ignoring them in silence. Stats, not a folder listing: a listing costs what the folder
// holds (4 ms for 5,000 entries), a stat does not. Outside any project (no package.json above the working
// directory: /tmp, a home folder) only the working directory itself is looked at, not every folder up to /: a
// file in a shared parent is nobody's project. A file found is used only when no other user could have written
// it (config/trust.ts); a refused one goes to `refused`, with the reason.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPackageRoot } from '../util/package-json';

export const MODULE_NAME = 'otel-run';

/** The largest config file read (config/load.ts refuses larger ones with a reason). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

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

/**
 * The names of config files otel-run does not read that people write most (the formats other tools accept),
 * each with the name it should have. A stat each per folder: keep the list short.
 */
const NEAR_MISSES: ReadonlyArray<readonly [string, string]> = [
  [`${MODULE_NAME}.config.json`, `.${MODULE_NAME}rc.json`],
  [`${MODULE_NAME}.config.yaml`, `.${MODULE_NAME}rc.yaml`],
  [`${MODULE_NAME}.config.yml`, `.${MODULE_NAME}rc.yml`],
  [`${MODULE_NAME}.json`, `.${MODULE_NAME}rc.json`],
  // A TypeScript compiler in every process is not cheap.
  [`${MODULE_NAME}.config.ts`, `${MODULE_NAME}.config.mjs (TypeScript is not read)`],
  [`.${MODULE_NAME}rc.ts`, `${MODULE_NAME}.config.mjs (TypeScript is not read)`],
];

function isFile(file: string): fs.Stats | undefined {
  try {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return st?.isFile() ? st : undefined;
  } catch {
    // Not ours to look at (EACCES, or a folder outside the permission model's --allow-fs-read).
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
 * the caller loads the first and moves on to the next only if it holds nothing. Near misses in the working
 * directory and the project root go to `nearMiss`.
 */
export function* configCandidates(
  cwd: string,
  nearMiss?: (miss: NearMiss) => void,
  texts?: Map<string, string>,
  refused?: (r: Refused) => void,
): Generator<string> {
  const start = path.resolve(cwd);
  const root = findPackageRoot(cwd) ?? start;
  let dir = start;
  for (;;) {
    // Where people put a config file: the folder they run from and the project root.
    if (nearMiss && (dir === start || dir === root)) {
      for (const [name, rename] of NEAR_MISSES) {
        const file = path.join(dir, name);
        if (isFile(file)) nearMiss({ file, rename });
      }
    }
    for (const place of SEARCH_PLACES) {
      const file = path.join(dir, place);
      const st = isFile(file);
      if (!st) continue;
      // A package.json too large to read is left to the loader, which says so.
      const wanted =
        place === 'package.json' ? st.size > MAX_CONFIG_BYTES || packageHasKey(file, texts) : st.size > 0;
      if (!wanted) continue;
      // Loaded only once a file is there: most processes find none.
      const why = (require('./trust') as typeof import('./trust')).distrust(file);
      if (why === undefined) yield file;
      else refused?.({ file, why });
    }
    if (dir === root) return;
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** The first usable config file from `cwd`, or undefined: the whole cost when there is none is the look above. */
export function findConfigFile(cwd: string): string | undefined {
  for (const file of configCandidates(cwd)) return file;
  return undefined;
}

/** A config file found but not used: another user could have written it. */
export interface Refused {
  readonly file: string;
  readonly why: string;
}

/** The warning for a refused file, the same from the CLI and the preload. */
export function describeRefused(r: Refused): { text: string; instead: string } {
  return {
    text: `config file ${r.file}: not used: ${r.why}`,
    instead:
      'it is ignored (a file another user could write may not run code or redirect spans; name it with --config or OTEL_RUN_CONFIG to use it anyway)',
  };
}

/** What to load: the file named (`--config` / OTEL_RUN_CONFIG, relative to `cwd`), else what was found. */
export interface Search {
  readonly files: readonly string[];
  readonly named: boolean;
  readonly nearMisses: readonly NearMiss[];
  /** The texts the search already read (a package.json, to see its "otel-run" key): not read again. */
  readonly texts: ReadonlyMap<string, string>;
  /** Files found but not used (config/trust.ts). */
  readonly refused: readonly Refused[];
}

export function searchConfig(cwd: string, named?: string): Search {
  const texts = new Map<string, string>();
  const given = named?.trim();
  if (given) return { files: [path.resolve(cwd, given)], named: true, nearMisses: [], texts, refused: [] };
  const nearMisses: NearMiss[] = [];
  const refused: Refused[] = [];
  const files = [
    ...configCandidates(
      cwd,
      (m) => nearMisses.push(m),
      texts,
      (r) => refused.push(r),
    ),
  ];
  return { files, named: false, nearMisses, texts, refused };
}
