// Throughput and first-response benchmark: a small express app with one parameterised route (so the express
// instrumentation names spans after it). Prints `listening <port>` when ready. On SIGTERM it writes its
// peak RSS, loaded files and the requests it served to $BENCH_STATS_FILE and exits.
'use strict';
const express = require('express');

const app = express();
let served = 0;
app.get('/users/:id', (req, res) => {
  served++;
  res.json({ id: req.params.id, name: 'Ada Lovelace', roles: ['admin', 'author'] });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  const file = process.env.BENCH_STATS_FILE;
  if (file) {
    const stats = {
      maxRSS: process.resourceUsage().maxRSS,
      files: Object.keys(require.cache),
      requests: served,
    };
    require('node:fs').writeFileSync(file, JSON.stringify(stats));
  }
  server.close();
  process.exit(0);
});
