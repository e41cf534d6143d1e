// NODE_OPTIONS is parsed by Node itself (src/node_options.cc, ParseNodeOptionsEnvVar): arguments split on
// spaces, double quotes group, and inside quotes a backslash escapes the next character.

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
