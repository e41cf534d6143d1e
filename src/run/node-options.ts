// NODE_OPTIONS is parsed by Node itself (src/node_options.cc, ParseNodeOptionsEnvVar): arguments split on
// spaces, double quotes group, and inside quotes a backslash escapes the next character.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function splitNodeOptions(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let inString = false;
  let started = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && inString && i + 1 < value.length) {
      current += value[++i];
    } else if (c === ' ' && !inString) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else if (c === '"') {
      inString = !inString;
      started = true;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) out.push(current);
  return out;
}

export function quoteNodeOption(arg: string): string {
  if (arg !== '' && !/[\s"\\]/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** True when `options` already preloads `file` (as `--require file`, `-r file` or `--require=file`). */
export function hasPreload(options: string, file: string): boolean {
  const args = splitNodeOptions(options);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === '--require' || a === '-r') && args[i + 1] === file) return true;
    if (a === `--require=${file}`) return true;
  }
  return false;
}

/** The user's NODE_OPTIONS with our preload added once, after theirs. */
export function withPreload(existing: string | undefined, file: string): string {
  const current = (existing ?? '').trim();
  if (current && hasPreload(current, file)) return current;
  const ours = `--require ${quoteNodeOption(file)}`;
  return current ? `${current} ${ours}` : ours;
}

const PERMISSION = /^--(experimental-)?permission$/;

/** Whether `command` runs Node itself (`node`, `nodejs`, this very binary). */
function isNode(cmd: string): boolean {
  const base = path.basename(cmd).replace(/\.exe$/i, '');
  return base === 'node' || base === 'nodejs' || cmd === process.execPath;
}

/** Node's own options on a `node …` command line: those before the script (or -e/-p and its code). */
function nodeArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (!a.startsWith('-') || a === '--') break;
    out.push(a);
  }
  return out;
}

function covers(grant: string, dir: string): boolean {
  if (grant === '*') return true;
  const base = grant.endsWith('*') ? grant.slice(0, -1) : grant;
  const withSep = base.endsWith(path.sep) ? base : `${base}${path.sep}`;
  return `${dir}${path.sep}`.startsWith(withSep);
}

/**
 * The command and NODE_OPTIONS for a child run under Node's permission model (`--permission`, or
 * `--experimental-permission` on Node 20): the preload is a file Node must read before the app, and without
 * read access to otel-run's own folder Node stops at it (ERR_ACCESS_DENIED) and the app never starts. So
 * otel-run's folder — its own files only — is added to the reads allowed, where the model is switched on: in
 * NODE_OPTIONS when it is on there, else on the command line of the `node` command given. Nothing else is
 * granted (no write, worker or child process).
 */
export function withPermissionForPreload(
  cmd: string,
  args: readonly string[],
  nodeOptions: string,
  ownRoot: string,
): { args: string[]; nodeOptions: string } {
  const grant = `--allow-fs-read=${ownRoot}`;
  const fromEnv = splitNodeOptions(nodeOptions);
  const readsIn = (list: readonly string[]) =>
    list
      .filter((a) => a.startsWith('--allow-fs-read='))
      .flatMap((a) => a.slice('--allow-fs-read='.length).split(','));
  if (fromEnv.some((a) => PERMISSION.test(a))) {
    const granted = [...readsIn(fromEnv), ...(isNode(cmd) ? readsIn(nodeArgs(args)) : [])];
    if (granted.some((g) => covers(g, ownRoot))) return { args: [...args], nodeOptions };
    return { args: [...args], nodeOptions: `${nodeOptions} ${quoteNodeOption(grant)}` };
  }
  if (!isNode(cmd)) return { args: [...args], nodeOptions };
  const own = nodeArgs(args);
  if (!own.some((a) => PERMISSION.test(a))) return { args: [...args], nodeOptions };
  if ([...readsIn(own), ...readsIn(fromEnv)].some((g) => covers(g, ownRoot)))
    return { args: [...args], nodeOptions };
  return { args: [grant, ...args], nodeOptions };
}

/**
 * `node --env-file=.env app.js`: Node reads NODE_OPTIONS from the file only when the environment has none, and
 * under otel-run it always has (the preload). So the file's NODE_OPTIONS, when the environment had none, is
 * what the preload is added to. Unquoted, single- or double-quoted values, as Node's own parser reads them.
 */
export function envFileNodeOptions(cmd: string, args: readonly string[], cwd: string): string | undefined {
  if (!isNode(cmd)) return undefined;
  const own = nodeArgs(args);
  let found: string | undefined;
  for (const a of own) {
    const file = a.startsWith('--env-file=') ? a.slice('--env-file='.length) : undefined;
    if (file === undefined) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.resolve(cwd, file), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split(/\r?\n/)) {
      const m = /^\s*(?:export\s+)?NODE_OPTIONS\s*=\s*(.*?)\s*$/.exec(line);
      if (!m) continue;
      let value = m[1] ?? '';
      const q = value[0];
      if ((q === '"' || q === "'" || q === '`') && value.endsWith(q) && value.length > 1)
        value = value.slice(1, -1);
      else value = value.replace(/\s+#.*$/, '');
      // A later file wins, as in Node.
      found = value;
    }
  }
  return found;
}
