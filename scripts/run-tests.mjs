#!/usr/bin/env node
// One test runner for every workspace: node:test, TypeScript loaded through tsx.
// Unit tests live beside the code (*.test.ts); integration tests under each workspace's tests/
// and the root tests/. Pass file paths or substrings to run a subset.
//
//   node scripts/run-tests.mjs [--quick] [--list] [filter …]
//
// --quick: the development loop (`npm run test:quick`): every unit test under packages/*/src and
//          apps/*/src, plus the integration tests listed in `quickIntegration`, which finish in
//          seconds. Fleets of processes, HA and Redis failover, ops tooling, interop with other
//          HTTP/2 servers and the CLI's processes run only in the full suite (`npm test`).
// --list:  print the selected files instead of running them.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const skipDirs = new Set(['node_modules', 'dist', '.git', '.tools', 'coverage']);

const isUnit = (file) => /^(packages|apps)\/[^/]+\/src\//.test(file);
/**
 * The integration tests --quick adds to the unit tests: one per layer a change usually breaks
 * (the API's accept path and its document, the SDK, the HTTP/2 client, the simulator), a few
 * seconds each. The other API, simulator and SDK suites, packaging, the browser, end-to-end
 * deliveries, fleets, HA, ops tooling, interop and fuzzing run in the full suite (`npm test`).
 */
const quickIntegration = [
  'apps/api/tests/notifications-api.test.ts',
  'apps/api/tests/idempotency-api.test.ts',
  'apps/api/tests/openapi.test.ts',
  'packages/client/tests/client.test.ts',
  'tests/transport/lean-client.test.ts',
  'apps/apns-sim/tests/provider-api.test.ts',
];
const inQuick = (file) =>
  !/fuzz/.test(file) && (isUnit(file) || quickIntegration.some((entry) => file.startsWith(entry)));

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const list = args.includes('--list');
const filters = args.filter((a) => a !== '--quick' && a !== '--list');
const all = ['packages', 'apps', 'tests', 'bench'].flatMap((top) => {
  try {
    return collect(join(root, top), []);
  } catch {
    return [];
  }
});

if (quick) {
  // A renamed or emptied entry must not shrink the quick path silently.
  const stale = quickIntegration.filter((entry) => !all.some((file) => file.startsWith(entry)));
  if (stale.length > 0) {
    console.error(`run-tests --quick: no tests under ${stale.join(', ')}; update quickIntegration`);
    process.exit(1);
  }
}

const files = all
  .filter((file) => !quick || inQuick(file))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
if (list) {
  process.stdout.write(`${files.join('\n')}\n`);
  process.exit(0);
}

// The timeout bounds each file as a whole as well as each test: the crash-point files run about a
// minute on an idle 2-core machine and several times that on a busy one.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
