// Fallback when /usr/bin/time is missing: preloaded through NODE_OPTIONS, each process reports its own peak
// RSS on stderr at exit; the benchmark keeps the largest of the tree.
'use strict';
process.on('exit', () => {
  try {
    process.stderr.write(`@@maxrss ${process.resourceUsage().maxRSS}\n`);
  } catch {}
});
