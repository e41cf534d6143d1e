// Runs every compiled test file with Node's test runner. Node 20 takes folders, Node 22+ takes globs: an
// explicit file list works on both, and keeps fixture apps (plain .js under test/) out of the run.
//
// `node scripts/test.js` (what `npm test` runs): the whole suite on this Node, then again on Node 22 and 24
// (scripts/nodes.js installs them from the npm registry into node_modules/.cache). Children the tests start
// use process.execPath, so each run traces apps on its own Node.
// `node scripts/test.js <file substrings…>`: those files on this Node only; add `--node=22,24` (or
// `--node=all`) to run them on the other Nodes too.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { ensureNode, VERSIONS } = require('./nodes');

const root = path.join(__dirname, '..', 'dist', 'test');
const args = process.argv.slice(2);
const nodeFlag = args.find((a) => a.startsWith('--node='));
const filter = args.filter((a) => !a.startsWith('--node='));
const others = nodeFlag
  ? nodeFlag.slice('--node='.length) === 'all'
    ? Object.keys(VERSIONS)
    : nodeFlag.slice('--node='.length).split(',').filter(Boolean)
  : filter.length
    ? []
    : Object.keys(VERSIONS);

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
files.sort();

const summary = [];
function runOn(bin, version) {
  console.log(`\n=== tests on Node ${version} (${bin}): ${files.length} file(s) ===\n`);
  const started = Date.now();
  const result = spawnSync(bin, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  summary.push(`Node ${version}: ${result.status === 0 ? 'passed' : 'FAILED'} (${seconds} s)`);
  return result.status === 0;
}

let ok = runOn(process.execPath, process.versions.node);
for (const major of others) {
  if (String(process.versions.node).split('.')[0] === major) continue;
  const node = ensureNode(major);
  if (!node.bin) {
    summary.push(`Node ${major}: not run — ${node.why}`);
    ok = false;
    continue;
  }
  ok = runOn(node.bin, node.version) && ok;
}
console.log(`\n=== ${summary.join('; ')} ===`);
process.exit(ok ? 0 : 1);
