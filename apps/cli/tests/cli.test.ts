import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRedis } from '@pushfleet/queue';
import { repoRoot, type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { ApiKeyVerifier } from '../../api/src/auth.ts';
import { demoApp, startFakeDelivery, startTestApi, type TestApi, token } from '../../api/tests/helpers.ts';

let server: StartedRedis;
let t: TestApi;
let url: string;
let dir: string;
let workerRedis: Redis;

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server });
  url = await t.api.listen({ host: '127.0.0.1', port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-cli-'));
  workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
});
after(async () => {
  await t.close();
  workerRedis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, PF_URL: url, PF_APP: 'demo', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('keys hash makes a key the api accepts; config check validates and redacts', async () => {
  const made = await cli([
    'keys',
    'hash',
    '--id',
    'shop',
    '--apps',
    'demo',
    '--permissions',
    'send,read',
    '--json',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const { key, entry } = JSON.parse(made.stdout) as { key: string; entry: { id: string; hash: string } };
  const verifier = new ApiKeyVerifier([{ ...entry, apps: ['demo'], permissions: ['send', 'read'] }], true);
  assert.equal((await verifier.authenticate(`Bearer ${key}`)).id, 'shop');
  const scrypt = JSON.parse((await cli(['keys', 'hash', '--key', 'k-123', '--scrypt', '--json'])).stdout);
  const slow = new ApiKeyVerifier([{ ...scrypt.entry, apps: ['*'], permissions: ['read'] }], true);
  assert.equal((await slow.authenticate('Bearer k-123')).id, 'producer');

  const good = join(dir, 'good.json');
  writeFileSync(
    good,
    JSON.stringify({
      apps: { demo: demoApp },
      api: { keys: [entry] },
      redis: { url: 'redis://u:secret@h:1' },
    }),
  );
  const ok = await cli(['config', 'check', good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /config OK/);
  assert.doesNotMatch(ok.stdout, /secret|[0-9a-f]{64}/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ apps: { demo: { ...demoApp, bundleId: 'no spaces!' } } }));
  const invalid = await cli(['config', 'check', bad, '--json']);
  assert.equal(invalid.code, 1);
  assert.equal(JSON.parse(invalid.stdout).ok, false);
});

test('send, devices import, campaign create (live progress until done) / status / list / cancel, queues', async () => {
  const sent = await cli([
    'send',
    '--token',
    token(1),
    '--token',
    token(2),
    '--title',
    'Hi',
    '--body',
    'there',
    '--json',
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(JSON.parse(sent.stdout).accepted, 2);

  const devices = join(dir, 'devices.ndjson');
  writeFileSync(devices, `${JSON.stringify({ token: token(3), tags: ['vip'] })}\n${token(4)}\n`);
  const imported = await cli(['devices', 'import', devices, '--json']);
  assert.equal(JSON.parse(imported.stdout).imported, 2, imported.stderr);

  const tokensFile = join(dir, 'tokens.txt');
  writeFileSync(tokensFile, `${Array.from({ length: 5000 }, (_, i) => token(10_000 + i)).join('\n')}\n`);
  const delivery = await startFakeDelivery(workerRedis, t.prefix);
  try {
    const created = await cli([
      'campaign',
      'create',
      '--tokens-file',
      tokensFile,
      '--alert',
      'sale',
      '--name',
      'cli',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const final = JSON.parse(created.stdout) as { id: string; state: string; delivered: number };
    assert.deepEqual([final.state, final.delivered], ['done', 5000]);
    assert.match(created.stderr, /\d+%/, 'progress was shown');

    const status = await cli(['campaign', 'status', final.id]);
    assert.match(status.stdout, /done/);
    const listed = JSON.parse((await cli(['campaign', 'list', '--json'])).stdout) as {
      items: { id: string }[];
    };
    assert.ok(listed.items.some((c) => c.id === final.id));
  } finally {
    await delivery.close();
  }
  const later = await cli([
    'campaign',
    'create',
    '--tag',
    'vip',
    '--alert',
    'later',
    '--send-at',
    new Date(Date.now() + 3600_000).toISOString(),
    '--no-wait',
    '--json',
  ]);
  assert.equal(later.code, 0, later.stderr);
  const cancelled = await cli(['campaign', 'cancel', JSON.parse(later.stdout).campaignId, '--json']);
  assert.equal(JSON.parse(cancelled.stdout).state, 'cancelled');

  const config = join(dir, 'stack.json');
  writeFileSync(
    config,
    JSON.stringify({ apps: { demo: demoApp }, redis: { url: server.url, prefix: t.prefix } }),
  );
  const queues = await cli(['queues', '--config', config, '--json']);
  assert.equal(queues.code, 0, queues.stderr);
  assert.ok(JSON.parse(queues.stdout)['deliver-demo'].completed >= 10);
});

test('failures exit non-zero with the API error code', async () => {
  const bad = await cli(['send', '--token', 'zz', '--alert', 'x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /PF_ERR_BAD_DEVICE_TOKEN/);
  const usage = await cli(['campaign', 'create', '--alert', 'x']);
  assert.equal(usage.code, 2);
  const unknown = await cli(['campaign', 'status', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /PF_ERR_NOT_FOUND/);
});
