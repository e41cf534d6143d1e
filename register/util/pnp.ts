// Yarn Plug'n'Play keeps packages in zip archives and resolves them through its own runtime (.pnp.cjs):
// there is no node_modules folder for discovery to read, and require-in-the-middle cannot map a zip path to a
// package. Rather than trace nothing in silence, every part of otel-run says so.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PNP_UNSUPPORTED =
  "Yarn Plug'n'Play is not supported: otel-run finds instrumentations and their libraries in node_modules folders, and PnP installs none — set `nodeLinker: node-modules` in .yarnrc.yml and run `yarn install`";

/** The PnP manifest that serves `cwd` (a .pnp.cjs in a folder above), or a note that this process runs under PnP. */
export function pnpManifest(cwd: string): string | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    for (const name of ['.pnp.cjs', '.pnp.js']) {
      const file = path.join(dir, name);
      if (fs.existsSync(file)) return file;
    }
    if (fs.existsSync(path.join(dir, 'node_modules'))) break;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return process.versions.pnp ? `process.versions.pnp ${process.versions.pnp}` : undefined;
}

/** For `list` and `bootstrap`: the line that says why they stop under PnP, or undefined when not under PnP. */
export function pnpRefusal(cwd: string): string | undefined {
  const pnp = pnpManifest(cwd);
  return pnp ? `otel-run: ${PNP_UNSUPPORTED} (${pnp})\n` : undefined;
}
