// otel-run preload for `node --import otel-run/register app.mjs`: the same start as the --require entry.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./index.cjs');
