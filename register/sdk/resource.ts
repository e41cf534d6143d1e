// The resource every span, metric and log record carries: the detectors OTEL_NODE_RESOURCE_DETECTORS names,
// the resource attributes (with the `env` detector), and the service name of sdk/service-name.ts.
import type { Resource, ResourceDetector } from '@opentelemetry/resources';
import type { Settings } from '../settings/table';
import * as log from '../util/stderr';
import { appPackage, resolveServiceName } from './service-name';

export const DISTRO_NAME = 'otel-run';

/** Cloud and container detectors live in packages of their own; they are used when the app has them. */
const OPTIONAL_DETECTORS: Record<string, { package: string; exports: string[] }> = {
  container: { package: '@opentelemetry/resource-detector-container', exports: ['containerDetector'] },
  alibaba: {
    package: '@opentelemetry/resource-detector-alibaba-cloud',
    exports: ['alibabaCloudEcsDetector'],
  },
  aws: {
    package: '@opentelemetry/resource-detector-aws',
    exports: [
      'awsEc2Detector',
      'awsEcsDetector',
      'awsEksDetector',
      'awsBeanstalkDetector',
      'awsLambdaDetector',
    ],
  },
  azure: {
    package: '@opentelemetry/resource-detector-azure',
    exports: ['azureAppServiceDetector', 'azureFunctionsDetector', 'azureVmDetector'],
  },
  gcp: { package: '@opentelemetry/resource-detector-gcp', exports: ['gcpDetector'] },
};

function optionalDetectors(name: string, from: string[]): ResourceDetector[] {
  const spec = OPTIONAL_DETECTORS[name];
  if (!spec) return [];
  try {
    const file = require.resolve(spec.package, { paths: from });
    const mod = require(file) as Record<string, ResourceDetector | undefined>;
    return spec.exports.map((e) => mod[e]).filter((d): d is ResourceDetector => !!d);
  } catch (err) {
    log.warn(
      `resource detector ${name} needs ${spec.package}: ${log.reason(err)} — skipped (npm install ${spec.package})`,
    );
    return [];
  }
}

/** `typed`: the configuration file's attributes, applied in place of the settings' string ones. */
export function buildResource(
  settings: Settings,
  app: { entry?: string; cwd: string; version: string },
  typed?: import('@opentelemetry/api').Attributes,
): Resource {
  const resources = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const wanted = new Set(settings.resourceDetectors);
  if (wanted.has('all')) {
    // 'all' means every local detector; cloud ones probe metadata addresses at start, so they run only
    // when named.
    for (const d of ['env', 'host', 'os', 'process', 'serviceinstance', 'container']) wanted.add(d);
  }
  if (wanted.has('none')) wanted.clear();

  const detectors: ResourceDetector[] = [];
  if (wanted.has('host')) detectors.push(resources.hostDetector);
  if (wanted.has('os')) detectors.push(resources.osDetector);
  if (wanted.has('process')) detectors.push(resources.processDetector);
  if (wanted.has('serviceinstance')) detectors.push(resources.serviceInstanceIdDetector);
  for (const name of Object.keys(OPTIONAL_DETECTORS)) {
    if (wanted.has(name)) detectors.push(...optionalDetectors(name, [app.cwd]));
  }

  const pkg = appPackage(app.entry, app.cwd);
  const service = resolveServiceName(settings, pkg);
  let resource = resources.defaultResource();
  // The package's name and version come first, so a detector that knows better (Azure App Service names
  // the site) still wins over them; a name the user gave is applied last.
  if (pkg?.name) {
    resource = resource.merge(
      resources.resourceFromAttributes({
        'service.name': pkg.name,
        ...(pkg.version ? { 'service.version': pkg.version } : {}),
      }),
    );
  }
  if (detectors.length) resource = resource.merge(resources.detectResources({ detectors }));
  if (typed) resource = resource.merge(resources.resourceFromAttributes(typed));
  else if (wanted.has('env'))
    resource = resource.merge(resources.resourceFromAttributes(settings.resourceAttributes));
  if (service.source === 'OTEL_SERVICE_NAME' || service.source === 'resource attributes') {
    resource = resource.merge(resources.resourceFromAttributes({ 'service.name': service.name }));
  }
  const built = resource.merge(
    resources.resourceFromAttributes({
      'telemetry.distro.name': DISTRO_NAME,
      'telemetry.distro.version': app.version,
    }),
  );
  // Detectors that read asynchronously (host.id) leave the resource "pending" until someone awaits it; the
  // synchronous exit path cannot, and serialising a pending resource logs an SDK error. Awaited now, it is
  // settled long before any exit (no handle is added: the detectors' own reads are already under way).
  built.waitForAsyncAttributes?.().catch(() => {});
  return built;
}
