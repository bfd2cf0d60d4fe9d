// @pushfleet/client as an integrator gets it: built, packed with npm, installed offline into a fresh
// project outside the repository, then used from plain ESM against a local HTTP server and
// type-checked from strict TypeScript (with a deliberate type error that must be caught).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './imports.ts';

const run = promisify(execFile);
const clientDir = join(repoRoot, 'packages/client');
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
const workspaceManifest = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8'));

// npm run exports the repository's package and lifecycle to children; the fresh project must not
// inherit them.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) =>
      !/^npm_(package|lifecycle)_/.test(key) && key !== 'npm_config_local_prefix' && key !== 'INIT_CWD',
  ),
);

let dir: string;
let tarball: string;
let packedFiles: string[];
let consumer: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-client-'));
  assert.ok(!dir.startsWith(repoRoot), 'the consumer project lives outside the repository');
  const out = join(dir, 'package');
  await run(process.execPath, [join(clientDir, 'build.mjs'), '--out', out], { cwd: repoRoot, env });
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: out, env });
  const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = join(dir, packed.filename);
  packedFiles = packed.files.map((f) => f.path).sort();

  consumer = join(dir, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: consumer, env });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the built package only: JS, declarations, README, manifest', () => {
  assert.deepEqual(packedFiles, [
    'README.md',
    'apps.d.ts',
    'apps.js',
    'client.d.ts',
    'client.js',
    'core-types.d.ts',
    'index.d.ts',
    'index.js',
    'lines.d.ts',
    'lines.js',
    'live.d.ts',
    'live.js',
    'package.json',
    'types.d.ts',
    'types.js',
  ]);
});

test('the installed manifest is publishable and pulls nothing from a registry', () => {
  const installed = join(consumer, 'node_modules/@pushfleet/client');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.equal(manifest.name, '@pushfleet/client');
  assert.equal(manifest.version, workspaceManifest.version);
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
  assert.equal(manifest.license, 'Apache-2.0');
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.private, undefined);
  assert.deepEqual(manifest.exports['.'], { types: './index.d.ts', default: './index.js' });
  assert.equal(manifest.types, './index.d.ts');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'scripts']) {
    assert.equal(manifest[field], undefined, `${field} in the published manifest`);
  }
  // The fresh project's lockfile: the tarball and nothing else.
  const lock = JSON.parse(readFileSync(join(consumer, 'package-lock.json'), 'utf8'));
  assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/@pushfleet/client']);
  // No trace of the private workspaces the source imports from.
  for (const file of readdirSync(installed).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
    assert.doesNotMatch(
      readFileSync(join(installed, file), 'utf8'),
      /(from\s*|import\s*\(\s*)['"]@pushfleet\//,
      file,
    );
  }
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

test('plain ESM: imports the package by name and talks HTTP to the API (retry, idempotency, errors)', async () => {
  const seen: Seen[] = [];
  let notificationPosts = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST' && req.url === '/v1/apps/shop/notifications') {
        // The first attempt is told to come back: the client must retry with the same key.
        if (notificationPosts++ === 0) {
          res.writeHead(503).end(JSON.stringify({ code: 'PF_ERR_REDIS_UNAVAILABLE', message: 'later' }));
        } else {
          res.writeHead(202).end(JSON.stringify({ id: 'n-1', accepted: 1 }));
        }
        return;
      }
      res.writeHead(404).end(JSON.stringify({ code: 'PF_ERR_NOT_FOUND', message: 'No such resource' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    writeFileSync(
      join(consumer, 'check.mjs'),
      [
        "import { PushfleetApiError, PushfleetClient } from '@pushfleet/client';",
        "const client = new PushfleetClient({ baseUrl: process.env.PF_URL, apiKey: 'key-abc', retryBaseMs: 1 });",
        'const sent = await client.sendNotification(',
        "  'shop',",
        "  { tokens: ['ab'.repeat(32)], notification: { alert: { title: 'Hi', body: 'there' }, badge: 2 } },",
        "  { idempotencyKey: 'order-42' },",
        ');',
        'let error;',
        "try { await client.getCampaign('shop', 'nope'); } catch (err) {",
        '  error = err instanceof PushfleetApiError ? { status: err.status, code: err.code } : String(err);',
        '}',
        "console.log(JSON.stringify({ sent, error, resolved: import.meta.resolve('@pushfleet/client') }));",
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, ['check.mjs'], {
      cwd: consumer,
      env: { ...env, PF_URL: `http://127.0.0.1:${port}` },
    });
    const result = JSON.parse(stdout);
    assert.deepEqual(result.sent, { id: 'n-1', accepted: 1 });
    assert.deepEqual(result.error, { status: 404, code: 'PF_ERR_NOT_FOUND' });
    assert.ok(
      result.resolved.startsWith(`file://${consumer}${sep}node_modules${sep}@pushfleet${sep}client${sep}`),
      result.resolved,
    );

    const posts = seen.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 2, 'one 503, then one retry');
    for (const post of posts) {
      assert.equal(post.url, '/v1/apps/shop/notifications');
      assert.equal(post.headers.authorization, 'Bearer key-abc');
      assert.equal(post.headers['idempotency-key'], 'order-42');
      assert.equal(post.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(post.body), {
        tokens: ['ab'.repeat(32)],
        notification: { alert: { title: 'Hi', body: 'there' }, badge: 2 },
      });
    }
    assert.deepEqual(
      seen.filter((r) => r.method === 'GET').map((r) => r.url),
      ['/v1/apps/shop/campaigns/nope'],
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Runs the repository's tsc over files of the consumer project with strict settings. */
async function typeCheck(files: string[]): Promise<{ code: number; output: string }> {
  const config = join(consumer, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noImplicitOverride: true,
        noEmit: true,
        // Check the package's declarations too, not only the consumer's code.
        skipLibCheck: false,
        // A Node.js project has @types/node; the fresh project borrows the repository's copy
        // rather than fetching one.
        typeRoots: [join(repoRoot, 'node_modules/@types')],
        types: ['node'],
      },
      files,
    }),
  );
  try {
    const { stdout } = await run(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
      cwd: consumer,
      env,
    });
    return { code: 0, output: stdout };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

test('strict TypeScript: the published types check a typical integration and catch a wrong one', async () => {
  writeFileSync(
    join(consumer, 'ok.ts'),
    [
      'import {',
      '  type CampaignStatus,',
      '  type Environment,',
      '  type NotificationInput,',
      '  PushfleetApiError,',
      '  PushfleetClient,',
      '  type SendNotificationRequest,',
      "} from '@pushfleet/client';",
      '',
      "const client = new PushfleetClient({ baseUrl: 'http://127.0.0.1:1', apiKey: process.env.PF_API_KEY });",
      'const notification: NotificationInput = {',
      "  alert: { title: 'Hi', locKey: 'GREETING', locArgs: ['Ann'] },",
      "  sound: { name: 'ping.caf', critical: true, volume: 0.5 },",
      "  pushType: 'alert',",
      '  priority: 10,',
      '  data: { orderId: 42 },',
      '};',
      "const environment: Environment = 'production';",
      "const request: SendNotificationRequest = { userIds: ['u1'], notification, environment };",
      '',
      'export async function send(): Promise<number> {',
      "  const { id, accepted } = await client.sendNotification('shop', request, { idempotencyKey: 'k' });",
      "  const status = await client.getNotification('shop', id);",
      "  const { campaignId } = await client.uploadCampaign('shop', { notification: { alert: 'Sale' } }, () => [",
      "    'ab'.repeat(32),",
      '  ]);',
      "  const done: CampaignStatus = await client.waitForCampaign('shop', campaignId, {",
      '    onProgress: (s) => console.log(s.delivered, s.rejected),',
      '  });',
      "  const page = await client.listCampaigns('shop', { limit: 10 });",
      '  const first: CampaignStatus | undefined = page.items[0];',
      "  const feed = await client.feedback('shop', { since: page.next === null ? undefined : String(page.next) });",
      '  try {',
      "    await client.cancelCampaign('shop', campaignId);",
      '  } catch (err) {',
      "    if (err instanceof PushfleetApiError && err.code === 'PF_ERR_CAMPAIGN_FINISHED') return err.status;",
      '    throw err;',
      '  }',
      '  return accepted + status.delivered + done.delivered + (first?.total ?? 0) + feed.items.length;',
      '}',
    ].join('\n'),
  );
  writeFileSync(
    join(consumer, 'bad.ts'),
    [
      "import { PushfleetClient } from '@pushfleet/client';",
      "const client = new PushfleetClient({ baseUrl: 'http://127.0.0.1:1' });",
      'export const wrong = [',
      "  client.sendNotification('shop', { tokens: ['ab'], notification: { pushType: 'carrier-pigeon' } }),",
      "  client.registerDevice('shop', 'ab', { environment: 'staging' }),",
      "  client.getNotification('shop'),",
      '];',
    ].join('\n'),
  );
  // One run for both files (tsc's start-up dominates): ok.ts must contribute no error at all.
  const checked = await typeCheck(['ok.ts', 'bad.ts']);
  assert.notEqual(checked.code, 0, 'the deliberate type errors must fail the check');
  const errors = checked.output.split('\n').filter((line) => /error TS\d+/.test(line));
  assert.ok(
    errors.every((line) => line.startsWith('bad.ts(')),
    `errors only in bad.ts, none in ok.ts or the package's declarations:\n${checked.output}`,
  );
  assert.match(checked.output, /bad\.ts\(4,\d+\): error TS2322: .*carrier-pigeon/);
  assert.match(checked.output, /bad\.ts\(5,\d+\): error TS2322: .*staging/);
  assert.match(checked.output, /bad\.ts\(6,\d+\): error TS2554/);
  assert.equal(errors.length, 3, checked.output);
});
