// Runs every compiled test file with Node's test runner. Node 20 takes folders, Node 22+ takes globs: an
// explicit file list works on both, and keeps fixture apps (plain .js under test/) out of the run.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist', 'test');
const filter = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith('.test.js') && (!filter.length || filter.some((f) => full.includes(f)))) {
      files.push(full);
    }
  }
})(root);
if (files.length === 0) {
  console.error(`no test files under ${root}${filter.length ? ` matching ${filter.join(' ')}` : ''}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files.sort()], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
