/**
 * The structure holds: no import circles among the modules of any workspace's src/ (type-only
 * imports count: a circle of types still ties two modules into one), and no src module runs
 * anything on import. Only entry modules (src/main.ts and the like, which the bins call or Node
 * runs) may have top-level statements beyond imports, exports and declarations.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { ROOT } from './harness.js';

/**
 * Modules that are programs: Node runs them, a bin imports them to run, or they are the entry
 * of a worker thread (bench worker.ts) or a forked child (bench floor-server.ts, conn-worker.ts).
 */
const ENTRY_MODULES = new Set([
  'main.ts',
  'floor-main.ts',
  'http-main.ts',
  'worker.ts',
  'floor-server.ts',
  'conn-worker.ts',
]);

function workspaces(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return pkg.workspaces.filter((w) => existsSync(join(ROOT, w, 'src')));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
}

/** Every relative module a file imports or re-exports, type-only and dynamic imports included, as .ts paths. */
export function relativeImports(sf: ts.SourceFile): string[] {
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      specs.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const lit = node.argument.literal;
      if (ts.isStringLiteral(lit)) specs.push(lit.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(sf.fileName), s.replace(/\.js$/, '.ts')));
}

/** The circles of a graph, each as the path around it (first module repeated at the end). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const walk = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      const s = state.get(next);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) walk(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) walk(node);
  return cycles;
}

/** Top-level statements that do something when the module is imported. */
export function sideEffects(sf: ts.SourceFile): string[] {
  const found: string[] = [];
  const hasAwait = (node: ts.Node): boolean =>
    ts.isAwaitExpression(node) ||
    (!ts.isFunctionLike(node) && !ts.isClassLike(node) && (ts.forEachChild(node, hasAwait) ?? false));
  for (const st of sf.statements) {
    const declaration =
      ts.isImportDeclaration(st) ||
      ts.isImportEqualsDeclaration(st) ||
      ts.isExportDeclaration(st) ||
      ts.isExportAssignment(st) ||
      ts.isFunctionDeclaration(st) ||
      ts.isClassDeclaration(st) ||
      ts.isInterfaceDeclaration(st) ||
      ts.isTypeAliasDeclaration(st) ||
      ts.isEnumDeclaration(st) ||
      ts.isModuleDeclaration(st) ||
      ts.isVariableStatement(st) ||
      ts.isEmptyStatement(st);
    if (!declaration || hasAwait(st)) {
      const { line } = sf.getLineAndCharacterOfPosition(st.getStart(sf));
      found.push(`${relative(ROOT, sf.fileName)}:${line + 1}: ${st.getText(sf).split('\n')[0]}`);
    }
  }
  return found;
}

t.test('no import circles among the src modules of any workspace', async (t) => {
  const graph = new Map<string, string[]>();
  for (const w of workspaces()) {
    for (const file of sourceFiles(join(ROOT, w, 'src'))) graph.set(file, relativeImports(parse(file)));
  }
  t.ok(graph.size > 100, `read ${graph.size} modules`);
  const cycles = findCycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' → '));
  t.same(cycles, [], 'import circles');
});

t.test('no src module but an entry runs anything on import', async (t) => {
  const found: string[] = [];
  let checked = 0;
  for (const w of workspaces()) {
    for (const file of sourceFiles(join(ROOT, w, 'src'))) {
      if (ENTRY_MODULES.has(file.slice(file.lastIndexOf('/') + 1))) continue;
      checked++;
      found.push(...sideEffects(parse(file)));
    }
  }
  t.ok(checked > 100, `checked ${checked} modules`);
  t.same(found, [], 'top-level statements with effects');
});

t.test('the checks find what they look for', async (t) => {
  const sf = (text: string, name = '/x/src/a.ts') => ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
  t.same(
    relativeImports(
      sf(
        "import type { A } from './b.js';\nexport { c } from '../c.js';\nimport 'node:fs';\n" +
          "const d = await import('./d.js');\ntype E = import('./e.js').E;",
      ),
    ),
    ['/x/src/b.ts', '/x/c.ts', '/x/src/d.ts', '/x/src/e.ts'],
  );
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c', 'x']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  t.same(findCycles(graph), [
    ['a', 'b', 'c', 'a'],
    ['d', 'd'],
  ]);
  t.same(
    findCycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
  const effects = sideEffects(
    sf(
      "import x from 'y';\nconst a = 1;\nprocess.exitCode = 1;\nprocess.on('exit', f);\n" +
        'const b = await run();\nfunction f() {}\nconst g = async () => { await f(); };\nif (a) f();',
    ),
  );
  t.same(
    effects.map((e) => e.split(': ')[1]),
    ['process.exitCode = 1;', "process.on('exit', f);", 'const b = await run();', 'if (a) f();'],
  );
});
