// The service name, decided once for the spans' resource (sdk/resource.ts), the startup line and
// `otel-run doctor`: OTEL_SERVICE_NAME > service.name in the resource attributes (OTEL_RESOURCE_ATTRIBUTES and
// the config file's resourceAttributes) > the nearest package.json of the entry script when it is outside
// node_modules (so a `tsx` or `next` launcher does not name the service), else of the working directory >
// unknown_service:node. An explicit name is kept whatever OTEL_NODE_RESOURCE_DETECTORS says: the detectors
// decide what is discovered about the process, not what the user wrote.
import * as path from 'node:path';
import { findNearestPackage } from '../util/package-json';
import * as log from '../util/stderr';

export interface AppPackage {
  name?: string;
  version?: string;
}

export interface ServiceName {
  name: string;
  source: 'OTEL_SERVICE_NAME' | 'resource attributes' | 'package.json' | 'default';
}

/** The app's package.json: the entry script's nearest one when outside node_modules, else the cwd's. */
export function appPackage(entry: string | undefined, cwd: string): AppPackage | undefined {
  const inNodeModules = entry?.split(path.sep).includes('node_modules');
  const start = entry && path.isAbsolute(entry) && !inNodeModules ? path.dirname(entry) : cwd;
  const found = findNearestPackage(start);
  if (!found) return undefined;
  if (!found.json) {
    log.debug(
      `${path.join(found.dir, 'package.json')} not used for the service name: ${log.reason(found.error)}`,
    );
    return undefined;
  }
  const { name, version } = found.json;
  return {
    name: typeof name === 'string' ? name : undefined,
    version: typeof version === 'string' ? version : undefined,
  };
}

/** `app`: the app's package.json as appPackage() finds it. */
export function resolveServiceName(
  settings: { serviceName?: string; resourceAttributes: Record<string, string> },
  app: AppPackage | undefined,
): ServiceName {
  if (settings.serviceName) return { name: settings.serviceName, source: 'OTEL_SERVICE_NAME' };
  const fromAttributes = settings.resourceAttributes['service.name'];
  if (fromAttributes) return { name: fromAttributes, source: 'resource attributes' };
  if (app?.name) return { name: app.name, source: 'package.json' };
  return { name: 'unknown_service:node', source: 'default' };
}
