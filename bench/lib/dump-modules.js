// Preloaded (through NODE_OPTIONS) in the module-count runs: at exit, appends one JSON line with the files in
// require.cache to $BENCH_MODULES_FILE. Every process of the tree writes its own line (the CLI and its child).
// A process that replaces itself with execve (the CLI on Node >= 22.15) has no exit event: it writes its line
// just before the call.
'use strict';
function dump() {
  const file = process.env.BENCH_MODULES_FILE;
  if (!file) return;
  const files = Object.keys(require.cache).filter((f) => f !== __filename);
  const line = JSON.stringify({ pid: process.pid, argv: process.argv.slice(1), files });
  require('node:fs').appendFileSync(file, `${line}\n`);
}
process.on('exit', dump);
if (typeof process.execve === 'function') {
  const execve = process.execve;
  process.execve = function (...args) {
    dump();
    return execve.apply(this, args);
  };
}
