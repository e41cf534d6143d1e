// `otel-run doctor [entry]`: one screen that says whether tracing will work here before the app runs: Node
// and ESM support, the resolved configuration and where each value came from, the instrumentors that will
// run (the same discovery and plan as the preload, through `list`), whether the exporter's endpoint answers
// (a real empty export), and common mistakes. Exit 0 when all is well, 1 with the problems listed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { describeRefused } from '../../register/config/search';
import { OWN_ROOT, VERSION } from '../../register/contract';
import { CATALOG } from '../../register/discovery/catalog';
import { isBuiltinTarget } from '../../register/discovery/manifest';
import { otlpTarget } from '../../register/export/target';
import { appPackage, resolveServiceName } from '../../register/sdk/service-name';
import { type Settings, SPECS } from '../../register/settings/table';
import { findPackageRoot, readPackageJson } from '../../register/util/package-json';
import { redactUrls } from '../../register/util/redact';
import { analyse, libraryLabel } from '../bootstrap/bootstrap';
import { describeNearMiss, type Resolved, resolveConfig } from '../common/config';
import { addSettingOptions, flagsToEnv, UsageError } from '../common/flags';
import { parseSubcommand } from '../common/parse-args';
import { displayValue, type Origin } from '../common/sources';
import { type ListEntry, listInstrumentors } from '../list/list';
import {
  type AppManifest,
  checkApiCopies,
  checkBundle,
  checkOwnSetup,
  checkPnp,
  type Finding,
} from './checks';
import { type ProbeTarget, probe } from './endpoint-probe';

export interface Section {
  title: string;
  items: Finding[];
}

export interface DoctorReport {
  ok: boolean;
  problems: number;
  warnings: number;
  sections: Section[];
}

/** Shown even at their default: the settings that decide where spans go. */
const ALWAYS_SHOWN = new Set([
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_TRACES_SAMPLER',
  'OTEL_PROPAGATORS',
  'OTEL_LOG_LEVEL',
]);

function readManifest(root: string): AppManifest | undefined {
  return readPackageJson(root) as AppManifest | undefined;
}

function nearestRoot(cwd: string): string {
  return findPackageRoot(cwd) ?? cwd;
}

function nodeSection(manifest: AppManifest | undefined, entry: string | undefined): Section {
  const items: Finding[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const supported = major > 20 || (major === 20 && minor >= 6);
  items.push({
    level: supported ? 'ok' : 'problem',
    text: `Node ${process.versions.node}${supported ? '' : ': otel-run needs 20.6 or newer'}`,
    hint: supported ? undefined : 'upgrade Node (20.6+, 22 or 24)',
  });
  const mod = require('node:module') as { register?: unknown };
  let iitm: string | undefined;
  try {
    const file = require.resolve('import-in-the-middle/package.json', { paths: [OWN_ROOT] });
    iitm = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {}
  const esmApp =
    manifest?.type === 'module' || (entry !== undefined && /\.m[jt]s$/.test(entry)) ? 'the app is ESM; ' : '';
  items.push(
    typeof mod.register === 'function' && iitm
      ? { level: 'ok', text: `ESM: ${esmApp}supported (module.register, import-in-the-middle ${iitm})` }
      : {
          level: esmApp ? 'problem' : 'warn',
          text: `ESM: ${esmApp}not supported here (${typeof mod.register === 'function' ? 'import-in-the-middle is missing' : 'no module.register'}): ES modules are not instrumented`,
        },
  );
  return { title: 'Node', items };
}

function sourceText(origin: Origin | undefined): string {
  if (!origin) return 'default';
  if (origin.source === 'file') return `file ${origin.file ?? ''}`.trim();
  return origin.source;
}

function configSection(
  resolved: Resolved,
  root: string,
  entry: string | undefined,
  fileProblems: Finding[],
): Section {
  const s = resolved.settings;
  const items: Finding[] = [];
  const o = resolved.origins;
  const service = resolveServiceName(s, appPackage(entry, root));
  const serviceSource =
    service.source === 'OTEL_SERVICE_NAME'
      ? sourceText(o.OTEL_SERVICE_NAME)
      : service.source === 'resource attributes'
        ? `${sourceText(o.OTEL_RESOURCE_ATTRIBUTES)} (OTEL_RESOURCE_ATTRIBUTES)`
        : service.source;
  const rows: [string, string, string][] = [['service name', service.name, serviceSource]];
  rows.push([
    'config file',
    resolved.configFile ?? (resolved.fileError ? '(not used: it has problems)' : '(none)'),
    resolved.configFile ? 'found' : resolved.fileError ? 'see below' : 'flags, environment and defaults only',
  ]);
  for (const spec of SPECS) {
    const origin = o[spec.env];
    if (origin?.source === 'default' && !ALWAYS_SHOWN.has(spec.env)) continue;
    if (spec.key === 'serviceName') continue;
    rows.push([spec.env, displayValue(spec, s), sourceText(origin)]);
  }
  if (s.tracesExporter.includes('otlp')) {
    const endpointSet = ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'].find(
      (v) => o[v]?.source !== 'default',
    );
    rows.push([
      'traces endpoint',
      otlpTarget(s, 'traces').url,
      endpointSet ? `from ${endpointSet}` : 'default (a collector on this machine)',
    ]);
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.min(50, Math.max(...rows.map((r) => r[1].length)));
  for (const [name, value, source] of rows) {
    items.push({ level: 'ok', text: `${name.padEnd(width)}  ${value.padEnd(valueWidth)}  ${source}` });
  }
  items.push(...fileProblems);
  for (const p of resolved.problems) {
    const level = (p as { level?: 'warn' }).level ?? 'problem';
    items.push({ level, text: p.message, hint: `fix ${p.source}` });
  }
  if (s.sdkDisabled) items.push({ level: 'warn', text: 'OTEL_SDK_DISABLED=true: otel-run does nothing' });
  return { title: 'Configuration (flag > env > file > default)', items };
}

function instrumentorSection(entries: ListEntry[], root: string): Section {
  const items: Finding[] = [];
  const enabled = entries.filter((e) => e.status === 'enabled').map((e) => e.name);
  items.push({
    level: enabled.length ? 'ok' : 'warn',
    text: enabled.length ? `will run: ${enabled.sort().join(', ')}` : 'no instrumentor will run',
  });
  for (const e of entries) {
    if (e.status === 'failed' || e.status === 'invalid')
      items.push({
        level: 'problem',
        text: `${e.name} (${e.package}@${e.version}): ${e.status} — ${e.reason}`,
      });
    else if (e.status === 'not-installed')
      items.push({ level: 'warn', text: `${e.name}: ${e.reason} — not traced` });
    else if (e.status === 'version-mismatch')
      items.push({
        level: 'warn',
        text: `${e.name}: ${e.reason} — not traced`,
        hint: `see which versions ${e.package} supports, or upgrade the library`,
      });
  }
  const byStatus = (status: ListEntry['status']) =>
    entries
      .filter((e) => e.status === status)
      .map((e) => e.name)
      .sort();
  const off = [...byStatus('disabled'), ...byStatus('disabled-by-default')];
  if (off.length) items.push({ level: 'ok', text: `off by choice: ${off.join(', ')}` });
  const dup = byStatus('duplicate');
  if (dup.length) items.push({ level: 'ok', text: `duplicates (one copy is used): ${dup.join(', ')}` });
  const absent = byStatus('target-not-installed');
  if (absent.length) {
    const shown = absent.slice(0, 12).join(', ');
    items.push({
      level: 'ok',
      text: `not needed (library not installed): ${shown}${absent.length > 12 ? `, … (${absent.length} in all)` : ''}`,
    });
  }
  try {
    const missing = analyse(root).libraries.filter((l) => l.status === 'missing');
    if (missing.length) {
      items.push({
        level: 'warn',
        text: `no instrumentation installed for ${missing.map((l) => libraryLabel(l)).join(', ')}: only their HTTP traffic is traced`,
        hint: 'otel-run bootstrap --install',
      });
    }
  } catch {
    // No package.json: nothing to compare with.
  }
  return { title: 'Instrumentors (otel-run list shows them all)', items };
}

async function exporterSection(s: Settings, timeoutMs: number): Promise<Section> {
  const items: Finding[] = [];
  const names = s.tracesExporter.includes('none') ? [] : [...new Set(s.tracesExporter)];
  if (names.length === 0)
    items.push({ level: 'warn', text: 'OTEL_TRACES_EXPORTER=none: spans are made and dropped' });
  for (const name of names) {
    if (name === 'console' || name === 'pretty') {
      items.push({ level: 'ok', text: `${name}: spans are printed on stderr` });
      continue;
    }
    let target: ProbeTarget;
    if (name === 'zipkin') {
      target = { url: s.exporterZipkinEndpoint, protocol: 'zipkin', headers: {}, timeoutMs };
    } else {
      const otlp = otlpTarget(s, 'traces');
      target = {
        url: otlp.url,
        protocol: otlp.protocol,
        headers: otlp.headers,
        timeoutMs: Math.min(timeoutMs, otlp.timeoutMillis),
        tls: otlp.tls,
        insecure: otlp.insecure,
      };
    }
    const label = name === 'zipkin' ? 'zipkin' : `otlp ${target.protocol}`;
    const r = await probe(target);
    items.push({ level: r.level, text: `${label} ${target.url}: ${r.summary}`, hint: r.hint });
  }
  return { title: 'Exporter', items };
}

function defaultEntry(root: string, manifest: AppManifest | undefined): string | undefined {
  const candidates = [manifest?.main, 'index.js'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const file = path.resolve(root, c);
    for (const f of [file, `${file}.js`, path.join(file, 'index.js')]) {
      try {
        if (fs.statSync(f).isFile()) return f;
      } catch {}
    }
  }
  return undefined;
}

export async function diagnose(options: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  flags: Record<string, string>;
  entry?: string;
  timeoutMs: number;
  verbose?: boolean;
  view?: boolean;
}): Promise<DoctorReport> {
  const root = nearestRoot(options.cwd);
  const manifest = readManifest(root);
  const entry = options.entry ? path.resolve(options.cwd, options.entry) : defaultEntry(root, manifest);
  // The same pipeline as a run; a file with problems is left out, and its problems listed.
  const resolved = await resolveConfig(
    {
      cwd: options.cwd,
      env: options.env,
      flags: options.flags,
      verbose: options.verbose,
      view: options.view,
    },
    true,
  );
  const fileProblems: Finding[] = [];
  const err = resolved.fileError;
  for (const p of err?.problems ?? [])
    fileProblems.push({
      level: 'problem',
      text: `${p.message} (${err?.file}${p.line === undefined ? '' : `:${p.line}`})`,
      hint: p.hint,
    });
  for (const r of resolved.refused) {
    const { text, instead } = describeRefused(r);
    fileProblems.push({ level: 'warn', text: `${text} — ${instead}` });
  }
  for (const m of resolved.nearMisses) fileProblems.push({ level: 'warn', ...describeNearMiss(m) });
  const env = { ...options.env, ...resolved.vars };
  const instrumentors = listInstrumentors(options.cwd, env);
  const sections: Section[] = [
    nodeSection(manifest, entry),
    configSection(resolved, root, entry, fileProblems),
    instrumentorSection(instrumentors, root),
    await exporterSection(resolved.settings, options.timeoutMs),
  ];
  const libraries = [
    ...new Set(CATALOG.flatMap((e) => Object.keys(e.targets)).filter((t) => !isBuiltinTarget(t))),
  ];
  const checks: Finding[] = [
    checkApiCopies(
      root,
      instrumentors.filter((e) => e.status === 'enabled').map((e) => e.dir),
    ),
    ...checkOwnSetup(manifest ?? {}, options.env.NODE_OPTIONS),
  ];
  const pnp = checkPnp(root);
  if (pnp) checks.unshift(pnp);
  const bundle = checkBundle(entry, libraries);
  if (bundle) checks.push(bundle);
  else
    checks.push({
      level: 'ok',
      text: 'no entry file to check for a bundle (give it: otel-run doctor app.js)',
    });
  sections.push({ title: 'Common mistakes', items: checks });
  const all = sections.flatMap((s) => s.items);
  const problems = all.filter((i) => i.level === 'problem').length;
  const warnings = all.filter((i) => i.level === 'warn').length;
  return { ok: problems === 0, problems, warnings, sections };
}

function render(report: DoctorReport, root: string, colour: boolean): string {
  const paint = (code: number, s: string) => (colour ? `\u001b[${code}m${s}\u001b[0m` : s);
  const mark = { ok: paint(32, '✓'), warn: paint(33, '!'), problem: paint(31, '✗') };
  const lines = [`otel-run doctor ${VERSION} — ${root}`];
  for (const section of report.sections) {
    lines.push('', paint(1, section.title));
    for (const item of section.items) {
      lines.push(`  ${mark[item.level]} ${item.text}`);
      if (item.hint && item.level !== 'ok') lines.push(`      hint: ${item.hint}`);
    }
  }
  lines.push('');
  if (report.ok) {
    lines.push(
      `All good${report.warnings ? ` (${report.warnings} warning${report.warnings === 1 ? '' : 's'})` : ''}: otel-run node <your app> will trace it.`,
    );
  } else {
    lines.push(
      `${report.problems} problem${report.problems === 1 ? '' : 's'} found${report.warnings ? `, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}` : ''}:`,
    );
    for (const item of report.sections.flatMap((s) => s.items).filter((i) => i.level === 'problem'))
      lines.push(`  ✗ ${item.text}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const program = new Command('otel-run doctor')
    .usage('[options] [entry-file]')
    .description(
      'Check, before running the app, that tracing will work here: Node, configuration, instrumentors, the endpoint, common mistakes.',
    )
    .argument('[entry]', 'the app’s entry file, for the bundle check (default: package.json "main")')
    .option('--json', 'print the report as JSON')
    .option('--timeout <ms>', 'how long the endpoint may take to answer', '2000')
    .option('--verbose', 'as OTEL_LOG_LEVEL=info')
    .option('--view', 'as OTEL_TRACES_EXPORTER=pretty')
    .exitOverride();
  addSettingOptions(program);
  const ended = parseSubcommand(program, argv);
  if (ended !== undefined) return ended;
  const opts = program.opts();
  const timeoutMs = Number(opts.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new UsageError(
      `--timeout ${String(opts.timeout)} is not a positive whole number of ms (--timeout)`,
      '--timeout 2000',
    );
  }
  const flags = flagsToEnv(opts);
  const cwd = process.cwd();
  const report = await diagnose({
    cwd,
    env: process.env,
    flags,
    entry: program.args[0],
    timeoutMs,
    verbose: !!opts.verbose,
    view: !!opts.view,
  });
  const colour = !!process.stdout.isTTY && !process.env.NO_COLOR && (process.env.FORCE_COLOR ?? '1') !== '0';
  // Everything doctor prints, text or JSON, names endpoints without their credentials.
  process.stdout.write(
    redactUrls(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report, nearestRoot(cwd), colour)),
  );
  return report.ok ? 0 : 1;
}
