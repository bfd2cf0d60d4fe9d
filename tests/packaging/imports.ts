// Reads every workspace's manifest and the module specifiers its files import, so a test can hold
// each package.json to what the code really uses. Parsing is TypeScript's own (no regexes), so
// `import type`, `export … from`, dynamic `import()`, `require()` and `import('x').T` are told apart.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const sourceExtensions = ['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs'];
const skipDirs = new Set(['node_modules', 'dist', '.git', '.tools', 'coverage', '.pushfleet']);
const dependencyFields = [
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'optionalDependencies',
] as const;
export type DependencyField = (typeof dependencyFields)[number];

export interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export interface Workspace {
  /** Directory relative to the repository root, e.g. `packages/core`; `.` for the root. */
  dir: string;
  manifest: Manifest;
}

/** One module a file needs, by package name. */
export interface ImportUse {
  file: string;
  line: number;
  /** The package (`zod`, `@pushfleet/core`), or a builtin's name (`node:fs`). */
  pkg: string;
  /** Only types: erased from the JavaScript, needed to type-check. */
  typeOnly: boolean;
  /** Loaded by `import()` when the code runs, so the caller can handle its absence. */
  dynamic: boolean;
  /** A file that ships in the workspace's runtime (src/, not a test). */
  runtime: boolean;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;
}

/** The workspaces npm links, from the root manifest's `workspaces` globs (`dir/*` form). */
export function listWorkspaces(): Workspace[] {
  const root = readManifest('.');
  const dirs: string[] = [];
  for (const pattern of root.workspaces ?? []) {
    if (!pattern.endsWith('/*') || pattern.slice(0, -2).includes('*')) {
      throw new Error(`workspace pattern ${pattern} is not of the form dir/*: teach imports.ts about it`);
    }
    const parent = pattern.slice(0, -2);
    for (const name of readdirSync(join(repoRoot, parent)).sort()) {
      const dir = `${parent}/${name}`;
      try {
        statSync(join(repoRoot, dir, 'package.json'));
        dirs.push(dir);
      } catch {
        // a folder without a manifest is not a workspace
      }
    }
  }
  return dirs.map((dir) => ({ dir, manifest: readManifest(dir) }));
}

export function declared(manifest: Manifest): Map<string, { field: DependencyField; range: string }> {
  const out = new Map<string, { field: DependencyField; range: string }>();
  for (const field of dependencyFields) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (out.has(name)) throw new Error(`${manifest.name}: ${name} is declared twice (${field})`);
      out.set(name, { field, range });
    }
  }
  return out;
}

/** Files of a directory tree (skipping node_modules, dist, …); `exclude` holds absolute paths. */
export function sourceFiles(dir: string, exclude: Set<string> = new Set()): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const path = join(abs, name);
      if (skipDirs.has(name) || exclude.has(path)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (sourceExtensions.some((ext) => name.endsWith(ext)) && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(resolve(repoRoot, dir));
  return out;
}

/** `zod` → `zod`, `@scope/x/y` → `@scope/x`, `node:fs` and `fs/promises` → `node:fs`. */
export function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return `node:${specifier.slice(5).split('/')[0]}`;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  return builtinModules.includes(name) ? `node:${name}` : name;
}

interface RawSpecifier {
  specifier: string;
  line: number;
  typeOnly: boolean;
  dynamic: boolean;
}

/** Every module specifier one file loads: static and dynamic imports, re-exports, require, preloads. */
export function specifiersOf(file: string, text = readFileSync(file, 'utf8')): RawSpecifier[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: RawSpecifier[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean, dynamic = false) =>
    out.push({
      specifier,
      typeOnly,
      dynamic,
      line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
    });
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier.text, allTypes);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const clause = node.exportClause;
      const allTypes =
        node.isTypeOnly ||
        (clause !== undefined &&
          ts.isNamedExports(clause) &&
          clause.elements.length > 0 &&
          clause.elements.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, allTypes);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, node.moduleReference.expression.text, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) add(node, arg.literal.text, true);
    } else if (ts.isCallExpression(node)) {
      const [first] = node.arguments;
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      // A computed specifier (a file path built at run time) names no package a manifest could declare.
      if ((isImport || isRequire) && first !== undefined && ts.isStringLiteralLike(first)) {
        add(node, first.text, false, isImport);
      }
    } else if (ts.isArrayLiteralExpression(node)) {
      // Modules a spawned node loads before its entry: ['--import', 'tsx', 'main.ts'].
      node.elements.forEach((element, i) => {
        const next = node.elements[i + 1];
        if (
          ts.isStringLiteralLike(element) &&
          (element.text === '--import' || element.text === '--loader' || element.text === '--require') &&
          next !== undefined &&
          ts.isStringLiteralLike(next)
        ) {
          add(next, next.text, false);
        }
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** True for files that run in production: under src/, not a test. */
export function isRuntimeFile(workspaceDir: string, file: string): boolean {
  const rel = relative(resolve(repoRoot, workspaceDir), file).split(sep);
  const name = rel[rel.length - 1]!;
  return rel[0] === 'src' && !/\.test\.[cm]?[jt]sx?$/.test(name) && !rel.includes('__tests__');
}

/**
 * The packages one workspace's files need. A relative import that leaves the workspace for another
 * workspace counts as a dependency on that workspace's package; one that lands elsewhere in the
 * repository is reported as `outside:<path>`, because no manifest can declare it.
 */
export function importsOf(
  workspace: Workspace,
  all: Workspace[],
  exclude: Set<string> = new Set(),
): ImportUse[] {
  const base = resolve(repoRoot, workspace.dir);
  const owners = all
    .filter((w) => w.dir !== '.')
    .map((w) => ({ abs: resolve(repoRoot, w.dir) + sep, name: w.manifest.name }));
  const uses: ImportUse[] = [];
  for (const file of sourceFiles(workspace.dir, exclude)) {
    const runtime = workspace.dir !== '.' && isRuntimeFile(workspace.dir, file);
    for (const { specifier, line, typeOnly, dynamic } of specifiersOf(file)) {
      const at = { file: relative(repoRoot, file), line, typeOnly, dynamic, runtime };
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const target = resolve(dirname(file), specifier);
        if (target.startsWith(base + sep)) continue;
        const owner = owners.find((o) => target.startsWith(o.abs));
        if (owner) uses.push({ ...at, pkg: owner.name });
        else if (workspace.dir !== '.') uses.push({ ...at, pkg: `outside:${relative(repoRoot, target)}` });
        continue;
      }
      if (specifier.startsWith('#')) continue; // package.json "imports": the workspace's own files
      uses.push({ ...at, pkg: packageOf(specifier) });
    }
  }
  return uses;
}

/**
 * The `@types/…` package that carries a module's types, if the repository installs one: `@types/node`
 * for builtins, `@types/node-forge` for node-forge, `@types/scope__x` for `@scope/x`.
 */
export function typesPackageFor(pkg: string, available: Set<string>): string | undefined {
  const name = pkg.startsWith('node:')
    ? '@types/node'
    : `@types/${pkg.startsWith('@') ? pkg.slice(1).replace('/', '__') : pkg}`;
  return available.has(name) ? name : undefined;
}
