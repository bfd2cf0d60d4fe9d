#!/usr/bin/env node
// Builds the publishable @pushfleet/client into one directory (default: packages/client/dist):
// ES2022 JavaScript and declarations compiled by the repository's TypeScript, a package.json made
// from this workspace's manifest and its publishConfig, and the README. Pack or publish that
// directory: `npm pack ./packages/client/dist`.
//
// The SDK's source imports types from @pushfleet/core, a private workspace. The published
// declarations must not need it, so the build writes the core types the SDK exposes into
// core-types.d.ts (printed by the type checker from core's own definitions, so they cannot drift)
// and points the declarations there. The JavaScript never imports core: those imports are type-only.
//
//   node packages/client/build.mjs [--out <dir>]
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, 'src');
const corePackage = '@pushfleet/core';
const coreTypesModule = './core-types.js';

/** The entry points a consumer can reach: everything else in src/ is tests. */
const entry = join(srcDir, 'index.ts');

const compilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2023.d.ts'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  declaration: true,
  removeComments: false,
  skipLibCheck: true,
  rootDir: srcDir,
};

function fail(message) {
  process.stderr.write(`packages/client/build.mjs: ${message}\n`);
  process.exit(1);
}

function formatDiagnostics(diagnostics) {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  });
}

const isClientFile = (file) => resolve(file).startsWith(srcDir + sep) && !/\.test\.ts$/.test(file);

/** The published manifest: this workspace's fields, with publishConfig's entry points lifted up. */
function publishedManifest(manifest) {
  const { directory: _directory, exports, types, files, ...publishConfig } = manifest.publishConfig ?? {};
  if (!exports || !types || !files) fail('publishConfig needs exports, types and files');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    if (manifest[field] && Object.keys(manifest[field]).length > 0) {
      fail(`${field} would ship in the package: the SDK must install with no registry dependencies`);
    }
  }
  const pick = ['name', 'version', 'description', 'keywords', 'license', 'type', 'engines', 'sideEffects'];
  const out = Object.fromEntries(pick.filter((k) => manifest[k] !== undefined).map((k) => [k, manifest[k]]));
  return { ...out, exports, types, files, publishConfig };
}

/** Names the client's files take from @pushfleet/core (imported or re-exported). */
function coreNamesUsed(program) {
  const names = new Set();
  for (const file of program.getSourceFiles().filter((f) => isClientFile(f.fileName))) {
    for (const statement of file.statements) {
      const specifier = statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier) || specifier.text !== corePackage) continue;
      if (ts.isImportDeclaration(statement)) {
        const clause = statement.importClause;
        const typeOnly = clause?.isTypeOnly || clause?.namedBindings?.elements?.every((e) => e.isTypeOnly);
        if (!typeOnly || clause.name || !ts.isNamedImports(clause.namedBindings)) {
          fail(
            `${relative(here, file.fileName)} imports values from ${corePackage}; only \`import type\` can be inlined`,
          );
        }
        for (const e of clause.namedBindings.elements) names.add((e.propertyName ?? e.name).text);
      } else if (ts.isExportDeclaration(statement)) {
        const clause = statement.exportClause;
        if (!clause || !ts.isNamedExports(clause)) fail(`export * from ${corePackage} cannot be inlined`);
        if (!statement.isTypeOnly && !clause.elements.every((e) => e.isTypeOnly)) {
          fail(`${relative(here, file.fileName)} re-exports values from ${corePackage}; use \`export type\``);
        }
        for (const e of clause.elements) names.add((e.propertyName ?? e.name).text);
      }
    }
  }
  return names;
}

/**
 * core-types.d.ts: each named core type and every core type it refers to. Interfaces are copied as
 * written (with their doc comments); type aliases are printed by the checker as the structural type
 * they stand for, since many are computed from values (`z.input<typeof schema>`, `keyof typeof x`)
 * that the package does not ship.
 */
function coreTypes(program, wanted) {
  const checker = program.getTypeChecker();
  const printer = ts.createPrinter({ removeComments: false });
  const coreFile = program
    .getSourceFiles()
    .find(
      (f) => f.statements.some((s) => s.moduleSpecifier?.text === corePackage) && isClientFile(f.fileName),
    );
  const specifier = coreFile.statements.find((s) => s.moduleSpecifier?.text === corePackage).moduleSpecifier;
  const coreModule = checker.getSymbolAtLocation(specifier);
  if (!coreModule) fail(`cannot resolve ${corePackage}`);
  const coreRoot = dirname(
    coreModule.valueDeclaration?.fileName ?? coreModule.declarations[0].getSourceFile().fileName,
  );
  const exported = new Map(checker.getExportsOfModule(coreModule).map((s) => [s.name, s]));
  const resolveAlias = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

  const queue = [...wanted].sort();
  const done = new Map();
  const docOf = (symbol) => {
    const text = ts.displayPartsToString(symbol.getDocumentationComment(checker));
    return text ? `/** ${text.split('\n').join('\n * ')} */\n` : '';
  };
  /** Core types an interface's text names; anything else must be a global (lib) type. */
  const referencedCoreNames = (node, owner) => {
    const found = [];
    const visit = (n) => {
      const name = ts.isTypeReferenceNode(n)
        ? n.typeName
        : ts.isExpressionWithTypeArguments(n)
          ? n.expression
          : null;
      if (name && ts.isIdentifier(name)) {
        const symbol = checker.getSymbolAtLocation(name);
        const declaration = symbol && resolveAlias(symbol).declarations?.[0];
        const file = declaration?.getSourceFile().fileName ?? '';
        if (file.startsWith(coreRoot + sep)) found.push(name.text);
        else if (!declaration || !program.isSourceFileDefaultLibrary(declaration.getSourceFile())) {
          fail(
            `core type ${owner} refers to ${name.text} (${relative(here, file)}), which the package cannot ship`,
          );
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(node);
    return found;
  };
  /** The checker's structural form of a type, with each top-level property's doc comment. */
  const printType = (type, at) => {
    const flags =
      ts.NodeBuilderFlags.NoTruncation |
      ts.NodeBuilderFlags.InTypeAlias |
      ts.NodeBuilderFlags.MultilineObjectLiterals |
      ts.NodeBuilderFlags.UseSingleQuotesForStringLiteralType;
    const node = checker.typeToTypeNode(type, at, flags);
    if (!node) fail(`cannot print ${checker.typeToString(type)}`);
    if (ts.isTypeLiteralNode(node)) {
      for (const member of node.members) {
        const property = member.name && type.getProperty(member.name.text);
        const doc = property && ts.displayPartsToString(property.getDocumentationComment(checker));
        if (doc)
          ts.addSyntheticLeadingComment(member, ts.SyntaxKind.MultiLineCommentTrivia, `* ${doc} `, true);
      }
    }
    return printer.printNode(ts.EmitHint.Unspecified, node, at.getSourceFile());
  };

  while (queue.length > 0) {
    const name = queue.shift();
    if (done.has(name)) continue;
    const exportedSymbol = exported.get(name);
    if (!exportedSymbol) fail(`${corePackage} does not export ${name}`);
    const symbol = resolveAlias(exportedSymbol);
    const declaration = symbol.declarations?.[0];
    if (declaration && ts.isInterfaceDeclaration(declaration)) {
      if (symbol.declarations.length > 1) fail(`interface ${name} is declared in pieces; cannot copy it`);
      queue.push(...referencedCoreNames(declaration, name));
      const text = declaration.getText().replace(/^export\s+/, '');
      done.set(name, `${docOf(symbol)}export ${text}`);
    } else if (declaration && ts.isTypeAliasDeclaration(declaration)) {
      if (declaration.typeParameters) fail(`generic type ${name} cannot be printed structurally`);
      const type = checker.getDeclaredTypeOfSymbol(symbol);
      done.set(name, `${docOf(symbol)}export type ${name} = ${printType(type, declaration)};`);
    } else {
      fail(`${name} from ${corePackage} is not an interface or a type alias`);
    }
  }
  const header = [
    `// Generated by packages/client/build.mjs from ${corePackage}: the types this SDK exposes,`,
    '// copied so the package has no dependencies. Edit them in the Pushfleet repository, not here.',
  ].join('\n');
  return `${header}\n\n${[...done.keys()]
    .sort()
    .map((k) => done.get(k))
    .join('\n\n')}\n`;
}

/** Declarations: `./x.ts` → `./x.js`, and @pushfleet/core → the generated core-types module. */
function rewriteDeclarationSpecifiers(context) {
  const { factory } = context;
  const rewrite = (text) => {
    if (text === corePackage) return coreTypesModule;
    if (text.startsWith('.') && text.endsWith('.ts')) return `${text.slice(0, -3)}.js`;
    return text;
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      return factory.updateImportDeclaration(
        node,
        node.modifiers,
        node.importClause,
        factory.createStringLiteral(rewrite(node.moduleSpecifier.text)),
        node.attributes,
      );
    }
    if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      return factory.updateExportDeclaration(
        node,
        node.modifiers,
        node.isTypeOnly,
        node.exportClause,
        factory.createStringLiteral(rewrite(node.moduleSpecifier.text)),
        node.attributes,
      );
    }
    if (ts.isImportTypeNode(node)) {
      fail('a declaration refers to a type through import("…"); export the type instead');
    }
    return ts.visitEachChild(node, visit, context);
  };
  return (file) => (ts.isSourceFile(file) ? ts.visitEachChild(file, visit, context) : file);
}

/** Every module the built files load must be one of the package's own files. */
function checkSelfContained(outDir, files) {
  for (const file of files) {
    const text = readFileSync(join(outDir, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      const specifier =
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier
          ? node.moduleSpecifier.text
          : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword
            ? (node.arguments[0]?.text ?? '<computed>')
            : undefined;
      if (specifier !== undefined && !specifier.startsWith('./')) {
        fail(`${file} loads ${specifier}: the package must need nothing but its own files`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  // The declarations must type-check on their own, with no node_modules at all.
  const host = ts.createCompilerHost({});
  const program = ts.createProgram({
    rootNames: files.filter((f) => f.endsWith('.d.ts')).map((f) => join(outDir, f)),
    options: {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.asynciterable.d.ts'],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      noResolve: true,
    },
    host,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0)
    fail(`the built declarations do not type-check alone:\n${formatDiagnostics(diagnostics)}`);
}

function build(outDir) {
  const manifest = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
  const published = publishedManifest(manifest);

  const program = ts.createProgram({ rootNames: [entry], options: { ...compilerOptions, outDir } });
  const clientFiles = program.getSourceFiles().filter((f) => isClientFile(f.fileName));
  const diagnostics = clientFiles.flatMap((f) => [
    ...program.getSyntacticDiagnostics(f),
    ...program.getSemanticDiagnostics(f),
  ]);
  if (diagnostics.length > 0) fail(`type errors:\n${formatDiagnostics(diagnostics)}`);

  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const written = [];
  const writeFile = (path, text) => {
    const rel = relative(outDir, path);
    if (rel.startsWith('..') || rel.includes(sep)) fail(`emit outside the package root: ${path}`);
    writeFileSync(path, text);
    written.push(rel);
  };
  for (const file of clientFiles) {
    const result = program.emit(file, writeFile, undefined, false, {
      afterDeclarations: [rewriteDeclarationSpecifiers],
    });
    if (result.emitSkipped) fail(`emit skipped for ${file.fileName}`);
  }
  writeFile(join(outDir, 'core-types.d.ts'), coreTypes(program, coreNamesUsed(program)));
  checkSelfContained(outDir, written);

  copyFileSync(join(here, 'README.md'), join(outDir, 'README.md'));
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  return written.sort();
}

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = resolve(values.out ?? join(here, manifestDirectory()));
const files = build(outDir);
process.stdout.write(`built @pushfleet/client in ${outDir}: ${files.join(', ')}, package.json, README.md\n`);

function manifestDirectory() {
  const manifest = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
  return manifest.publishConfig?.directory ?? 'dist';
}
