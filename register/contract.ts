// What the CLI and the preload must agree on. The CLI hands its resolved settings to every process of the
// tree through the environment: the spec's OTEL_* variables, plus the few OTEL_RUN_* below.
import * as path from 'node:path';

/** The package root (this file is dist/register/contract.js once built). */
export const OWN_ROOT = path.resolve(__dirname, '..', '..');

export const VERSION: string = (require(path.join(OWN_ROOT, 'package.json')) as { version: string }).version;

/** The preload entry given to `--require` (plain JavaScript that even an old Node can parse). */
export const REGISTER_ENTRY = path.join(OWN_ROOT, 'register', 'index.cjs');

/** JSON object: per-instrumentor options, `{ "http": { ... } }`, from the config file. */
export const ENV_INSTRUMENTATION_CONFIG = 'OTEL_RUN_INSTRUMENTATIONS';

/** Set by the CLI once it has resolved flags, environment and config file: children then skip the file. */
export const ENV_RESOLVED = 'OTEL_RUN_RESOLVED';

/**
 * Set by the CLI when a .js/.cjs/.mjs config file gives functions as per-instrumentor options (hooks), which
 * JSON cannot carry: the file's absolute path; the preload loads it for those functions only.
 */
export const ENV_CONFIG_MODULE = 'OTEL_RUN_CONFIG_MODULE';

/**
 * Set by the CLI instead of OTEL_RUN_INSTRUMENTATIONS when the config file's per-instrumentor options are too
 * large for the environment (a variable over 128 KiB makes exec fail with E2BIG, and the app never starts):
 * the config file's absolute path; the preload reads the options from it, under OTEL_RUN_INSTRUMENTATIONS.
 */
export const ENV_INSTRUMENTATIONS_FILE = 'OTEL_RUN_INSTRUMENTATIONS_FILE';

/** The longest OTEL_RUN_INSTRUMENTATIONS the CLI hands over, in bytes (Linux refuses one string over 128 KiB). */
export const MAX_ENV_JSON = 64 * 1024;

/**
 * Package managers that NODE_OPTIONS also reaches (`otel-run npm start` runs npm itself under the preload):
 * they are not the app. Matched on the script Node runs (process.argv[1], `/` separated), and only on their
 * real entry files: a user's `yarn-seed.js` or a script in a folder named corepack is an app like any other.
 */
export const PACKAGE_MANAGERS: readonly RegExp[] = [
  // The bin links (/usr/bin/npm, node_modules/.bin/pnpm) Node leaves unresolved in argv[1].
  /\/(npm|npx|yarn|yarnpkg|pnpm|pnpx|corepack)$/,
  /\/npm\/bin\/np[mx]-cli\.js$/,
  /\/yarn\/bin\/yarn(pkg)?(\.c?js)?$/,
  // A yarn release a project pins (yarnPath: .yarn/releases/yarn-4.5.0.cjs).
  /\/yarn-\d+\.\d+\.\d+[\w.-]*\.c?js$/,
  /\/pnpm\/(bin|dist)\/pnp[mx]\.c?js$/,
  /\/corepack\/(dist|shims)\/(corepack|npm|npx|yarn|yarnpkg|pnpm|pnpx)(\.c?js)?$/,
];

/**
 * Signals whose default action ends the process: the preload flushes before it lets one end the app, and
 * the CLI relays them to its child. (SIGUSR1 opens Node's inspector, and SIGPIPE is ignored by Node: neither
 * ends a Node process, so the preload leaves both alone; the CLI relays SIGUSR1 as well.)
 */
export const ENDING_SIGNALS: readonly NodeJS.Signals[] =
  process.platform === 'win32'
    ? ['SIGINT', 'SIGTERM', 'SIGHUP']
    : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * Set by the CLI for its direct child: `<CLI pid>:<file>`. The child's preload appends each signal it
 * receives to the file (`<signal> <epoch ms>`), so the CLI relays only what the child did not get (a signal
 * sent to the process group reaches both), and watches that the CLI is still its parent.
 */
export const ENV_SIGNAL_REPORT = 'OTEL_RUN_SIGNAL_REPORT';
