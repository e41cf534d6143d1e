// otel-run preload: `node --require otel-run/register app.js` or NODE_OPTIONS="--require /abs/path/register/index.cjs".
// Written in old JavaScript on purpose: NODE_OPTIONS reaches every Node a script starts, including an old
// one (nvm, a system node). There it must load, say why it does nothing, and let the program run untraced.
'use strict';
(() => {
  var parts = String(process.versions.node).split('.');
  var major = Number(parts[0]);
  var minor = Number(parts[1]);
  if (major < 20 || (major === 20 && minor < 6)) {
    if (process.env.OTEL_SDK_DISABLED !== 'true') {
      try {
        process.stderr.write(
          'otel-run: not started: Node ' +
            process.versions.node +
            ' is older than 20.6 — this process runs untraced\n',
        );
      } catch (e) {}
    }
    return;
  }
  try {
    require('../dist/register/main.js').start();
  } catch (err) {
    // Strict mode, from the environment or (set by main.js) from a config file: the reason stops the start.
    if (
      process.env.OTEL_RUN_STRICT === 'true' ||
      process.env.OTEL_RUN_STRICT === 'TRUE' ||
      globalThis[Symbol.for('otel-run.strict')] === true
    )
      throw err;
    try {
      process.stderr.write(
        'otel-run: could not start: ' +
          (err && err.message ? String(err.message).split('\n')[0] : String(err)) +
          ' — the app runs untraced\n',
      );
    } catch (e) {}
  }
})();
