import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './run';

/**
 * A published instrumentor depends on @opentelemetry/instrumentation itself; a committed fixture cannot hold
 * it, so a fixture copy gets the repo's, linked where npm would have hoisted it.
 */
export function linkInstrumentation(dir: string): void {
  const scope = path.join(dir, 'node_modules', '@opentelemetry');
  fs.mkdirSync(scope, { recursive: true });
  const link = path.join(scope, 'instrumentation');
  if (!fs.existsSync(link))
    fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', '@opentelemetry', 'instrumentation'), link);
}
