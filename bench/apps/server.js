// Throughput and first-response benchmark: a small express app with one parameterised route (so the express
// instrumentation names spans after it). Prints `listening <port>` when ready. On SIGTERM it writes its
// peak RSS and loaded files to $BENCH_STATS_FILE and exits.
'use strict';
const express = require('express');

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: 'Ada Lovelace', roles: ['admin', 'author'] });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  const file = process.env.BENCH_STATS_FILE;
  if (file) {
    const stats = { maxRSS: process.resourceUsage().maxRSS, files: Object.keys(require.cache) };
    require('node:fs').writeFileSync(file, JSON.stringify(stats));
  }
  server.close();
  process.exit(0);
});
