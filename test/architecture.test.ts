// The dependency direction the layout promises (docs/architecture.md): the import graph of register/ and src/ has
// no cycles; the preload (register/) never loads the CLI (src/); the CLI reaches into the preload only through a
// few entry points. Read from the TypeScript sources with the compiler's own parser, so a specifier in a comment
// or a string is never taken for an import, and type-only imports count too: a cycle through types is still a
// cycle a reader has to untangle.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from './helpers/run';

/** What src/ may import from register/: the CLI↔preload contract and the pieces both sides share. */
const SRC_MAY_USE = [
  'register/contract.ts', // env variable names and the shape of what the CLI hands down
  'register/startup-line.ts', // doctor prints the same line a run prints
  'register/settings/*', // the settings table drives flags, help, file keys, validation
  'register/config/*', // one config loader for the CLI and the preload
  'register/discovery/*', // list, doctor and bootstrap show what a run would discover
  'register/hooks/activate.ts', // list loads each instrumentor as a run would, to report `failed`
  'register/util/*',
  'register/export/target.ts', // doctor probes the endpoint a run would export to
  'register/export/tls.ts', // and with the same TLS files
  'register/sdk/service-name.ts', // doctor names the service as the spans do
  'register/sdk/api-copies.ts', // doctor judges the @opentelemetry/api copies as the registration does
  'register/otel-config/*', // doctor, env and list read OTEL_CONFIG_FILE as a run does
];

/** Cycles allowed to stay: none. An entry here must name every file of one cycle, and fails once it is gone. */
const KNOWN_CYCLES: readonly (readonly string[])[] = [];

type Kind = 'import' | 'require' | 'import()' | 'import type';

interface Edge {
  from: string;
  to: string;
  specifier: string;
  line: number;
  kind: Kind;
}

/** Every .ts file under the given folders, as repository-relative paths with forward slashes. */
function sourceFiles(folders: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const folder of folders) walk(folder);
  return out.sort();
}

type Found = { specifier: string; line: number; kind: Kind };

/** Relative specifiers of static imports and re-exports, `import x = require()`, `require()`, `import()` and `typeof import()`. */
function relativeSpecifiers(file: string): Found[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: Found[] = [];
  const add = (node: ts.Node | undefined, kind: Kind): void => {
    if (node && ts.isStringLiteralLike(node) && node.text.startsWith('.')) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      found.push({ specifier: node.text, line, kind });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause?.isTypeOnly ? 'import type' : 'import');
    } else if (ts.isExportDeclaration(node))
      add(node.moduleSpecifier, node.isTypeOnly ? 'import type' : 'import');
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, 'require');
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], 'import()');
      else if (ts.isIdentifier(callee) && callee.text === 'require') add(node.arguments[0], 'require');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, 'import type');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Resolves as tsc does for these sources (extensionless, or a folder's index). */
function resolve(from: string, specifier: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) {
    const full = path.join(REPO_ROOT, candidate);
    if (fs.existsSync(full) && fs.statSync(full).isFile()) return candidate;
  }
  return base;
}

function importGraph(files: string[]): Edge[] {
  // `require('./x') as typeof import('./x')` is one import, reported once (as the require).
  const unique = new Map<string, Edge>();
  for (const from of files) {
    for (const { specifier, line, kind } of relativeSpecifiers(from)) {
      const to = resolve(from, specifier);
      const id = `${from} ${to} ${line}`;
      if (!unique.has(id)) unique.set(id, { from, to, specifier, line, kind });
    }
  }
  return [...unique.values()];
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's algorithm. */
function cycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let counter = 0;
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) out.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return out;
}

/** The edges inside one component, so a failure names each import to cut, with its line. */
function describeCycle(component: string[], edges: Edge[]): string {
  const members = new Set(component);
  const inside = edges.filter((e) => members.has(e.from) && members.has(e.to));
  return [
    `  cycle: ${component.join(', ')}`,
    ...inside.map((e) => `    ${e.from}:${e.line} ${e.kind} '${e.specifier}' (${e.to})`),
  ].join('\n');
}

function matches(file: string, pattern: string): boolean {
  return pattern.endsWith('/*') ? file.startsWith(pattern.slice(0, -1)) : file === pattern;
}

const key = (component: readonly string[]): string => [...component].sort().join(' ');

describe('import graph of register/ and src/', () => {
  const files = sourceFiles(['register', 'src']);
  const edges = importGraph(files);

  test('reads the sources it means to check', () => {
    // Guards the checks below against passing vacuously (a moved folder, a parser that finds nothing).
    assert.ok(files.includes('register/main.ts') && files.includes('src/cli.ts'), files.join('\n'));
    assert.ok(edges.length > 50, `only ${edges.length} relative imports found`);
    for (const kind of ['import', 'require', 'import type'] as const) {
      assert.ok(
        edges.some((e) => e.kind === kind),
        `no ${kind} edge found: the parser no longer sees them`,
      );
    }
  });

  test('every relative import resolves to a source file', () => {
    const known = new Set(files);
    const dangling = edges.filter((e) => !known.has(e.to) && !e.to.endsWith('.json'));
    assert.deepEqual(
      dangling.map((e) => `${e.from}:${e.line} '${e.specifier}'`),
      [],
      'imports that resolve to no .ts file under register/ or src/ (the graph would miss them)',
    );
  });

  test('has no cycles other than the known ones listed in this test', () => {
    const found = cycles(edges);
    const known = new Set(KNOWN_CYCLES.map(key));
    const fresh = found.filter((c) => !known.has(key(c)));
    const stale = KNOWN_CYCLES.filter((c) => !found.some((f) => key(f) === key(c)));
    const report = [
      ...fresh.map((c) => describeCycle(c, edges)),
      ...stale.map(
        (c) => `  KNOWN_CYCLES lists a cycle that is gone (or changed): ${c.join(', ')}; remove it`,
      ),
    ];
    if (found.length) {
      // Visible in the test output even while passing, so the known cycles are not forgotten.
      console.log(`import cycles present:\n${found.map((c) => describeCycle(c, edges)).join('\n')}`);
    }
    assert.equal(report.length, 0, `import cycles:\n${report.join('\n')}`);
  });

  test('the preload never imports the CLI', () => {
    const wrong = edges.filter((e) => e.from.startsWith('register/') && !e.to.startsWith('register/'));
    assert.deepEqual(
      wrong.map((e) => `${e.from}:${e.line} imports '${e.specifier}'`),
      [],
      'register/ runs inside every user process and must not load src/ (or anything outside register/)',
    );
  });

  test('the CLI uses the preload only through its entry points', () => {
    const wrong = edges.filter(
      (e) =>
        e.from.startsWith('src/') &&
        e.to.startsWith('register/') &&
        !SRC_MAY_USE.some((p) => matches(e.to, p)),
    );
    assert.deepEqual(
      wrong.map((e) => `${e.from}:${e.line} imports '${e.specifier}'`),
      [],
      `src/ may use only ${SRC_MAY_USE.join(', ')} from register/: move the shared piece there, or add an entry point to SRC_MAY_USE with the reason`,
    );
  });
});
