// Where a config file may be, and the cheap look for one that every preloaded process pays. It mirrors
// cosmiconfig 9's search (the CLI uses cosmiconfig itself, with these same places): the places below in this
// order, in the working directory and each parent up to the first one holding a package.json or package.yaml
// (cosmiconfig's searchStrategy 'project'). Nothing is read unless it exists: one stat per place per folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MODULE_NAME = 'otel-run';

/** cosmiconfig's default places for `otel-run`, minus `.config/…` and `.ts` (a TypeScript compiler per process is not cheap). */
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

function isFile(file: string): fs.Stats | undefined {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? st : undefined;
}

/** A package.json counts only when it has an "otel-run" key (cosmiconfig's packageProp). */
function packageHasKey(file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  // Most package.json files never mention us: skip the parse for them.
  if (!text.includes(`"${MODULE_NAME}"`)) return false;
  try {
    const json = JSON.parse(text) as Record<string, unknown> | null;
    return !!json && typeof json === 'object' && json[MODULE_NAME] != null;
  } catch {
    // cosmiconfig would report the broken package.json; let the loader do the same.
    return true;
  }
}

/**
 * The config files that may apply from `cwd`, nearest first (usually zero or one). Empty files are skipped
 * as cosmiconfig skips them; the caller loads the first and moves on to the next only if it holds nothing.
 */
export function* configCandidates(cwd: string): Generator<string> {
  let dir = path.resolve(cwd);
  for (;;) {
    let projectRoot = false;
    for (const place of SEARCH_PLACES) {
      const file = path.join(dir, place);
      const st = isFile(file);
      if (!st) continue;
      if (place === 'package.json') {
        projectRoot = true;
        if (packageHasKey(file)) yield file;
      } else if (st.size > 0) {
        yield file;
      }
    }
    if (projectRoot || isFile(path.join(dir, 'package.yaml'))) return;
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** The first config file from `cwd`, or undefined: the whole cost when there is none is the stats above. */
export function findConfigFile(cwd: string): string | undefined {
  for (const file of configCandidates(cwd)) return file;
  return undefined;
}
