import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PauseStore } from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  stackApi,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

/**
 * #13 finding 2: an app whose key file cannot be read, or holds no usable key, must not crash the
 * worker (every app would stop): its sends fail as a credentials problem, that app × environment
 * pauses, and the other apps deliver as before.
 */
let server: StartedRedis;
let stack: Stack;
let dir: string;
const prefix = `badcreds-${randomUUID().slice(0, 8)}`;

before(async () => {
  server = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-badcreds-'));
  const garbage = join(dir, 'AuthKey_GARBAGE.p8');
  writeFileSync(garbage, '-----BEGIN PRIVATE KEY-----\nnot a key at all\n-----END PRIVATE KEY-----\n');
  stack = await startStack({
    redisUrl: server.url,
    prefix,
    extraApps: ['unreadable', 'garbage'],
    config: {
      api: { auth: { required: false } },
      worker: { credentialsPauseMs: 60_000 },
      apps: {
        unreadable: { credentials: { keyFile: join(dir, 'missing', 'AuthKey.p8') } },
        garbage: { credentials: { keyFile: garbage } },
      },
    },
  });
});

after(async () => {
  await stack?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('unusable keys pause their app × environment; the worker lives on and the other apps deliver', async () => {
  const worker = stack.processes.get('worker')!;
  for (const app of ['unreadable', 'garbage']) await stackApi(stack, app).send(randomDeviceTokens(20));
  const redis = new Redis(server.url);
  try {
    const pauses = await waitFor('both broken apps paused', async () => {
      const all = await new PauseStore(redis, prefix).all();
      return all.length === 2 ? all : undefined;
    });
    assert.deepEqual(pauses.map((p) => [p.app, p.environment, p.reason]).sort(), [
      ['garbage', 'sandbox', 'CredentialsError'],
      ['unreadable', 'sandbox', 'CredentialsError'],
    ]);
  } finally {
    redis.disconnect();
  }
  // Still running, and the healthy app is unaffected.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(worker.process.exitCode, null, `worker exited:\n${worker.recentLogs()}`);
  const api = stackApi(stack);
  const status = await api.waitDone(await api.send(randomDeviceTokens(30)));
  assert.equal(status.delivered, 30);
  // The logs say which app and why, never a key's bytes.
  assert.doesNotMatch(worker.recentLogs(), /not a key at all/);
  assert.deepEqual(worker.nonJsonLines(), []);
});
