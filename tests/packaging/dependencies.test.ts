// Every workspace's package.json declares exactly what its files import: npm's hoisting would let an
// undeclared import work here and break in an isolated install (the Docker image, a published SDK).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import {
  declared,
  type ImportUse,
  importsOf,
  listWorkspaces,
  type Manifest,
  packageOf,
  readManifest,
  repoRoot,
  specifiersOf,
  typesPackageFor,
  type Workspace,
} from './imports.ts';

/**
 * Run-time imports a workspace keeps in devDependencies on purpose, with the reason. Each must be
 * type-only or a dynamic `import()` (checked below), so the production install works without it.
 */
const devOnlyAtRuntime: Record<string, Record<string, string>> = {
  // The published build copies the core types the SDK exposes into its own declarations; the
  // packaging test proves the tarball needs no @pushfleet package.
  '@pushfleet/client': { '@pushfleet/core': 'types inlined into the published declarations' },
  // startRedis() tries a container only when a Docker engine answers, and falls back to a
  // redis-server otherwise; the production image (npm ci --omit=dev) has no Docker tooling.
  '@pushfleet/testkit': {
    testcontainers: 'optional: loaded with import() when a Docker engine answers',
    '@testcontainers/redis': 'optional: loaded with import() when a Docker engine answers',
  },
};

const rootManifest = readManifest('.');
const workspaces = listWorkspaces();
const workspaceNames = new Set(workspaces.map((w) => w.manifest.name));
const rootRanges = new Map<string, string>(
  Object.entries({ ...rootManifest.dependencies, ...rootManifest.devDependencies }),
);
const typesAvailable = new Set([...rootRanges.keys()].filter((name) => name.startsWith('@types/')));

interface Need {
  runtime: boolean;
  firstUse: ImportUse;
}

/** What a workspace's files need, by package: at run time (src) or only for tests and tooling. */
function needs(uses: ImportUse[]): Map<string, Need> {
  const out = new Map<string, Need>();
  const note = (pkg: string, use: ImportUse) => {
    const seen = out.get(pkg);
    if (!seen) out.set(pkg, { runtime: use.runtime, firstUse: use });
    else if (use.runtime && !seen.runtime) out.set(pkg, { runtime: true, firstUse: use });
  };
  for (const use of uses) {
    if (!use.pkg.startsWith('node:')) note(use.pkg, use);
    const types = typesPackageFor(use.pkg, typesAvailable);
    // @types packages are only read by the type checker: always a dev need.
    if (types) note(types, { ...use, runtime: false });
  }
  return out;
}

/** Problems with one workspace's manifest, as readable lines (empty when it is right). */
function problems(workspace: Workspace, uses: ImportUse[]): string[] {
  const { manifest } = workspace;
  const out: string[] = [];
  const where = (use: ImportUse) => `${use.file}:${use.line}`;
  const have = declared(manifest);
  const need = needs(uses);
  const devOnly = devOnlyAtRuntime[manifest.name] ?? {};
  for (const use of uses) {
    if (use.pkg.startsWith('outside:')) {
      out.push(
        `${where(use)} imports ${use.pkg.slice(8)}, outside every workspace: no manifest can declare it`,
      );
    }
  }
  for (const [pkg, { runtime, firstUse }] of need) {
    if (pkg.startsWith('outside:')) continue;
    if (pkg === manifest.name) continue; // a package importing itself by name
    const entry = have.get(pkg);
    if (!entry) {
      const field = runtime && !devOnly[pkg] ? 'dependencies' : 'devDependencies';
      out.push(`${pkg} is imported (${where(firstUse)}) but not declared: add it to ${field}`);
      continue;
    }
    if (runtime && entry.field === 'devDependencies' && !devOnly[pkg]) {
      out.push(`${pkg} is imported at run time (${where(firstUse)}) but only in devDependencies`);
    }
    if (!runtime && entry.field !== 'devDependencies') {
      out.push(`${pkg} is only used by tests and tooling (${where(firstUse)}): move it to devDependencies`);
    }
  }
  for (const use of uses) {
    if (devOnly[use.pkg] && use.runtime && !use.typeOnly && !use.dynamic) {
      out.push(
        `${where(use)} imports ${use.pkg} statically: its exemption (${devOnly[use.pkg]}) needs import()`,
      );
    }
  }
  for (const [pkg, { field, range }] of have) {
    if (!need.has(pkg)) out.push(`${pkg} is declared in ${field} but nothing imports it`);
    if (workspaceNames.has(pkg)) {
      if (range !== '*') out.push(`${pkg}: a workspace package is declared as "*", not "${range}"`);
    } else if (!rootRanges.has(pkg)) {
      out.push(`${pkg} is not in the root package.json: the root pins every third-party version`);
    } else if (rootRanges.get(pkg) !== range) {
      out.push(`${pkg}: "${range}" differs from the root's "${rootRanges.get(pkg)}"`);
    }
  }
  for (const [pkg, meta] of Object.entries(manifest.peerDependenciesMeta ?? {})) {
    if (!manifest.peerDependencies?.[pkg])
      out.push(`peerDependenciesMeta names ${pkg}, not a peer dependency`);
    if (meta.optional !== true) out.push(`peerDependenciesMeta.${pkg} says nothing but optional: true`);
  }
  return out;
}

for (const workspace of workspaces) {
  test(`${workspace.manifest.name} (${workspace.dir}) declares exactly what it imports`, () => {
    assert.deepEqual(problems(workspace, importsOf(workspace, workspaces)), []);
  });
}

test('the root declares every package its own scripts, tests and benchmarks import', () => {
  const root: Workspace = { dir: '.', manifest: rootManifest };
  const exclude = new Set(workspaces.map((w) => resolve(repoRoot, w.dir)));
  const missing = importsOf(root, workspaces, exclude)
    .filter((use) => !use.pkg.startsWith('node:') && !workspaceNames.has(use.pkg) && !rootRanges.has(use.pkg))
    .map((use) => `${use.pkg} (${use.file}:${use.line})`);
  assert.deepEqual(missing, []);
});

test('every workspace is a dependency-free leaf or depends only on declared workspaces (no cycles)', () => {
  const edges = new Map(
    workspaces.map((w) => [
      w.manifest.name,
      [...declared(w.manifest).keys()].filter((n) => workspaceNames.has(n)),
    ]),
  );
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    if (state.get(name) === 'done') return;
    assert.notEqual(state.get(name), 'visiting', `dependency cycle: ${[...path, name].join(' → ')}`);
    state.set(name, 'visiting');
    for (const next of edges.get(name) ?? []) visit(next, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of edges.keys()) visit(name, []);
});

// The check itself must be able to fail: feed it a manifest that is wrong in every way it knows.
test('the check reports undeclared, misplaced, unused and mis-versioned dependencies', () => {
  const text = [
    "import { z } from 'zod';",
    "import type { Redis } from 'ioredis';",
    "import { readFileSync } from 'node:fs';",
    "export type { Queue } from 'bullmq';",
    "const forge = await import('node-forge');",
  ].join('\n');
  const file = resolve(repoRoot, 'packages/example/src/index.ts');
  const uses: ImportUse[] = specifiersOf(file, text).map((s) => ({
    file: 'packages/example/src/index.ts',
    line: s.line,
    pkg: packageOf(s.specifier),
    typeOnly: s.typeOnly,
    dynamic: s.dynamic,
    runtime: true,
  }));
  const testFile = resolve(repoRoot, 'packages/example/tests/x.test.ts');
  const testText = "import { parse } from 'yaml';\nspawn(node, ['--import', 'tsx', 'main.ts']);";
  for (const s of specifiersOf(testFile, testText)) {
    uses.push({
      file: 'packages/example/tests/x.test.ts',
      line: s.line,
      pkg: s.specifier,
      typeOnly: false,
      dynamic: false,
      runtime: false,
    });
  }
  assert.deepEqual(
    uses.map((u) => [u.pkg, u.typeOnly]),
    [
      ['zod', false],
      ['ioredis', true],
      ['node:fs', false],
      ['bullmq', true],
      ['node-forge', false],
      ['yaml', false],
      ['tsx', false],
    ],
  );
  const manifest: Manifest = {
    name: '@pushfleet/example',
    dependencies: {
      zod: '3.0.0',
      pino: rootRanges.get('pino') ?? '?',
      yaml: rootRanges.get('yaml') ?? '?',
      '@pushfleet/core': '^0.1.0',
    },
    devDependencies: { ioredis: rootRanges.get('ioredis') ?? '?' },
  };
  const found = problems({ dir: 'packages/example', manifest }, uses);
  const expect = [
    /^bullmq is imported .* not declared: add it to dependencies$/,
    /^node-forge is imported .* not declared/,
    /^@types\/node is imported .* add it to devDependencies$/,
    /^@types\/node-forge is imported/,
    /^ioredis is imported at run time .* only in devDependencies$/,
    /^zod: "3.0.0" differs from the root's/,
    /^pino is declared in dependencies but nothing imports it$/,
    /^@pushfleet\/core is declared in dependencies but nothing imports it$/,
    /^@pushfleet\/core: a workspace package is declared as "\*"/,
    /^yaml is only used by tests and tooling .*: move it to devDependencies$/,
    /^tsx is imported \(packages\/example\/tests\/x.test.ts:2\) but not declared: add it to devDependencies$/,
  ];
  for (const pattern of expect)
    assert.ok(
      found.some((line) => pattern.test(line)),
      `${pattern} in\n${found.join('\n')}`,
    );
  assert.equal(found.length, expect.length, found.join('\n'));
});

test('an exempted run-time import must stay dynamic (or type-only) to be left out of dependencies', () => {
  const file = resolve(repoRoot, 'packages/testkit/src/x.ts');
  const use = (text: string): ImportUse[] =>
    specifiersOf(file, text).map((s) => ({
      ...s,
      file: 'packages/testkit/src/x.ts',
      pkg: packageOf(s.specifier),
      runtime: true,
    }));
  const manifest: Manifest = {
    name: '@pushfleet/testkit',
    devDependencies: { testcontainers: rootRanges.get('testcontainers') ?? '?' },
  };
  const workspace = { dir: 'packages/testkit', manifest };
  assert.deepEqual(problems(workspace, use("const t = await import('testcontainers');")), []);
  assert.match(
    problems(workspace, use("import { GenericContainer } from 'testcontainers';")).join('\n'),
    /imports testcontainers statically/,
  );
});
