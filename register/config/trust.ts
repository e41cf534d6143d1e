// Whether a config file found by the search may be used. The preload in NODE_OPTIONS reaches every Node process
// wherever it starts, and a JavaScript config runs code in it; a data config decides where spans (and what
// they carry) go. So a file found by the search is used only when no other user could have written it: the
// file and every folder above it are owned by this user or root, and none is writable by other users (a
// world-writable folder counts only with the sticky bit, as /tmp: others cannot replace what is ours; a
// group-writable one only when the group is this user's own, the user-private-group convention of umask 002).
// A file named by --config or OTEL_RUN_CONFIG is the user's choice and is not checked. On a platform without
// uids (Windows) there is nothing to compare: every file is used. Costs a few stats, only once a file was found.
import * as fs from 'node:fs';
import * as path from 'node:path';

const STICKY = 0o1000;

function describeMode(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function problemWith(
  p: string,
  st: fs.Stats,
  uid: number,
  gid: number | undefined,
  what: string,
): string | undefined {
  if (st.uid !== uid && st.uid !== 0)
    return `${what} ${p} is owned by uid ${st.uid}, not by this user (uid ${uid}) or root`;
  const sticky = st.isDirectory() && (st.mode & STICKY) !== 0;
  if (st.mode & 0o002 && !sticky) return `${what} ${p} is writable by every user (mode ${describeMode(st)})`;
  if (st.mode & 0o020 && !sticky && st.gid !== gid)
    return `${what} ${p} is writable by group ${st.gid} (mode ${describeMode(st)})`;
  return undefined;
}

function chainProblem(file: string, uid: number, gid: number | undefined): string | undefined {
  const st = fs.statSync(file);
  const own = problemWith(file, st, uid, gid, 'the file');
  if (own) return own;
  let dir = path.dirname(file);
  for (;;) {
    const bad = problemWith(dir, fs.statSync(dir), uid, gid, 'its folder');
    if (bad) return bad;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Why `file` (found by the search, not named) must not be used; undefined when it may. */
export function distrust(file: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const gid = process.getgid?.();
  try {
    const lexical = chainProblem(path.resolve(file), uid, gid);
    if (lexical) return lexical;
    // A link: where it points must be as safe as where it sits.
    const real = fs.realpathSync(file);
    return real === path.resolve(file) ? undefined : chainProblem(real, uid, gid);
  } catch (err) {
    return `it cannot be checked (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
}
