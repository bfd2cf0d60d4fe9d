// The Redis-backed AppDirectory: every process sees an added, changed, disabled or deleted app within
// moments (change messages), and within two polls when a message is lost; a wrong or missing
// key-encryption key refuses to start; config apps cannot be overwritten; an idle directory costs
// one GET per poll whatever the number of apps.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { loadCredentials } from '@pushfleet/apns';
import type { PushfleetError } from '@pushfleet/core';
import { createRedis } from '@pushfleet/queue';
import { openAppDirectory, type RedisAppDirectory, registryKeys } from '@pushfleet/store';
import { repoRoot, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import {
  certificateUpload,
  freshPrefix,
  newKek,
  newRegistry,
  p12Upload,
  testConfig,
  tokenUpload,
} from './helpers.ts';

let server: StartedRedis;
let redis: Redis;
const fixture = testConfig();
const { config } = fixture;
const opened: RedisAppDirectory[] = [];
const connections: Redis[] = [];

before(async () => {
  server = await startRedis();
  redis = await connection();
});
after(async () => {
  await Promise.all(opened.map((d) => d.close()));
  for (const c of connections) c.disconnect();
  await server.stop();
  fixture.cleanup();
});

async function connection(): Promise<Redis> {
  const c = createRedis(server.url, 'worker');
  await c.connect();
  connections.push(c);
  return c;
}

/** A directory on its own connections, as one process has. */
async function directory(
  prefix: string,
  kek: Buffer | undefined,
  options: { pollMs?: number; subscriber?: Redis } = {},
) {
  const d = await openAppDirectory({ redis: await connection(), prefix, config, kek, ...options });
  opened.push(d);
  const changes: string[][] = [];
  d.onChange((ids) => changes.push(ids));
  return { d, changes };
}

const within = (description: string, check: () => boolean, timeoutMs = 2000) =>
  waitFor(description, check, { timeoutMs, intervalMs: 10 });

test('two processes see an add, a change, a rotation, a disable and a delete within moments', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const a = await directory(prefix, kek);
  const b = await directory(prefix, kek);
  for (const { d } of [a, b]) {
    assert.deepEqual(d.ids(), ['shop']);
    assert.equal(d.get('shop')?.source, 'config');
  }

  const token = tokenUpload();
  await registry.put('news', { bundleId: 'com.example.news', credentials: token });
  for (const { d } of [a, b]) await within('the new app', () => d.get('news')?.state === 'active');
  for (const { d, changes } of [a, b]) {
    assert.deepEqual(d.ids().sort(), ['news', 'shop']);
    assert.deepEqual(changes, [['news']]);
    const entry = d.get('news')!;
    assert.deepEqual(
      [entry.source, entry.revision, entry.config.bundleId],
      ['registry', '1', 'com.example.news'],
    );
    assert.deepEqual(entry.config.credentials, {
      type: 'token',
      keyFile: '',
      keyId: token.keyId,
      teamId: token.teamId,
    });
    const material = await d.credentials('news');
    assert.equal(material.type === 'token' && material.keyPem.includes('BEGIN PRIVATE KEY'), true);
    assert.equal(loadCredentials({ credentials: material }).ok, true, 'usable by the transport');
  }

  await registry.put('news', { bundleId: 'com.example.news', connections: 3 });
  for (const { d } of [a, b]) await within('the change', () => d.get('news')?.revision === '2');
  assert.deepEqual(b.d.get('news')?.config.connections, {
    min: 3,
    max: 3,
    idleCloseMs: 300_000,
    shrinkAfterMs: 30_000,
  });

  const { upload, certPem } = p12Upload(['com.example.news']);
  await registry.putCredentials('news', upload);
  for (const { d } of [a, b]) await within('the rotation', () => d.get('news')?.revision === '3');
  const rotated = await b.d.credentials('news');
  assert.equal(rotated.type, 'certificate');
  assert.equal(
    rotated.type === 'certificate' && new X509Certificate(rotated.certPem!).fingerprint256,
    new X509Certificate(certPem).fingerprint256,
  );
  assert.equal(loadCredentials({ credentials: rotated }).ok, true);

  await registry.disable('news');
  for (const { d } of [a, b]) await within('the disable', () => d.get('news')?.state === 'disabled');
  assert.equal(b.d.get('news')?.revision, '3');

  await registry.delete('news', async () => false);
  for (const { d } of [a, b]) await within('the delete', () => d.get('news') === undefined);
  for (const { d, changes } of [a, b]) {
    assert.deepEqual(changes, [['news'], ['news'], ['news'], ['news'], ['news']]);
    assert.deepEqual(d.ids(), ['shop']);
    assert.equal(d.version(), 5);
    await assert.rejects(d.credentials('news'), /unknown app news/);
  }
});

test('a lost change message is caught by the version poll', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const subscriber = await connection();
  const { d, changes } = await directory(prefix, kek, { pollMs: 200, subscriber });
  // Every message to this process is lost from here on.
  subscriber.removeAllListeners('message');
  const started = Date.now();
  await registry.put('news', { bundleId: 'com.example.news', credentials: tokenUpload() });
  await registry.put('sport', {
    bundleId: 'com.example.sport',
    credentials: certificateUpload(['com.example.sport']),
  });
  await within('the poll to catch up', () => d.version() === 2, 3000);
  assert.ok(Date.now() - started < 1500, 'within about two polls');
  assert.deepEqual(changes.flat().sort(), ['news', 'sport']);
  assert.equal(d.get('sport')?.config.credentials.type, 'certificate');
});

test('a gap in the messages reloads everything; a message for an old version is ignored', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const subscriber = await connection();
  const { d, changes } = await directory(prefix, kek, { pollMs: 60_000, subscriber });
  const listeners = subscriber.listeners('message') as ((channel: string, text: string) => void)[];
  subscriber.removeAllListeners('message');
  let lost = 0;
  const lose = () => lost++;
  subscriber.on('message', lose);
  await registry.put('news', { bundleId: 'com.example.news', credentials: tokenUpload() });
  await registry.put('sport', { bundleId: 'com.example.sport', credentials: tokenUpload() });
  await within('both messages to be lost', () => lost === 2);
  subscriber.off('message', lose);
  for (const l of listeners) subscriber.on('message', l);
  // Version 3 arrives while this process saw neither 1 nor 2.
  await registry.disable('news');
  await within('the reload', () => d.version() === 3 && d.get('news')?.state === 'disabled');
  assert.deepEqual(changes, [['news', 'sport']], 'one reload, every app that changed');
  await redis.publish(registryKeys.changes(prefix), JSON.stringify({ version: 2, ids: ['news'] }));
  await redis.publish(registryKeys.changes(prefix), 'not json');
  await d.refresh();
  assert.equal(d.get('news')?.state, 'disabled');
});

test('a separate process sees the registry change and decrypts the credentials', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const child = watch(prefix, kek);
  try {
    assert.deepEqual(await child.next(), { ready: true, ids: [] });
    const token = tokenUpload();
    const started = Date.now();
    await registry.put('news', { bundleId: 'com.example.news', credentials: token });
    const added = (await child.next()) as { changed: string[]; apps: Record<string, unknown>[] };
    assert.ok(Date.now() - started < 2000);
    // The testkit's key is PKCS#8 PEM already: stored and handed out as it came.
    const digest = createHash('sha256').update(token.keyPem).digest('hex');
    assert.deepEqual(added, {
      changed: ['news'],
      apps: [
        {
          id: 'news',
          state: 'active',
          revision: '1',
          bundleId: 'com.example.news',
          credentials: 'token',
          digest: digest.slice(0, 16),
        },
      ],
    });
    await registry.disable('news');
    assert.equal(((await child.next()) as { apps: { state: string }[] }).apps[0]!.state, 'disabled');
    await registry.delete('news', async () => false);
    assert.deepEqual(await child.next(), { changed: ['news'], apps: [{ id: 'news', gone: true }] });
  } finally {
    child.stop();
  }
  // Another process with another key-encryption key refuses to start, naming the field.
  const wrong = watch(prefix, newKek());
  try {
    assert.deepEqual(await wrong.next(), {
      error: 'PF_ERR_CONFIG',
      message: "appRegistry.keyEncryptionKey is not the key the app registry's credentials were sealed with",
      field: 'appRegistry.keyEncryptionKey',
    });
    assert.equal(await wrong.exit, 1);
  } finally {
    wrong.stop();
  }
});

test('a wrong or missing key-encryption key refuses to open; none needed while nothing is sealed', async () => {
  const prefix = freshPrefix();
  const { d } = await directory(prefix, undefined);
  assert.deepEqual(d.ids(), ['shop'], 'no KEK and nothing sealed: fine');
  const kek = newKek();
  await newRegistry(redis, prefix, config, kek).put('news', {
    bundleId: 'com.example.news',
    credentials: tokenUpload(),
  });
  for (const [name, key, message] of [
    ['wrong', newKek(), /is not the key/],
    ['missing', undefined, /is not set, but the app registry holds credentials/],
  ] as const) {
    await assert.rejects(openAppDirectory({ redis, prefix, config, kek: key }), (err: PushfleetError) => {
      assert.equal(err.code, 'PF_ERR_CONFIG', name);
      assert.equal(err.field, 'appRegistry.keyEncryptionKey', name);
      assert.match(err.message, message);
      assert.ok(!err.message.includes(kek.toString('hex')) && !err.message.includes(kek.toString('base64')));
      return true;
    });
  }
  // A registry write with another KEK is refused before anything is sealed with it.
  await assert.rejects(
    newRegistry(redis, prefix, config, newKek()).put('other', {
      bundleId: 'a.b',
      credentials: tokenUpload(),
    }),
    (err: PushfleetError) => err.code === 'PF_ERR_CONFIG',
  );
  assert.equal(await redis.hexists(registryKeys.apps(prefix), 'other'), 0);
  // The directory opened without a KEK cannot decrypt, and says so without crashing.
  await within('the app', () => d.get('news') !== undefined);
  await assert.rejects(d.credentials('news'), /no key-encryption key/);
});

test('config apps win: a registry record with a config app id changes nothing', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const { d, changes } = await directory(prefix, kek);
  // Written behind the registry's back (another deployment's config, or by hand).
  await newRegistry(redis, prefix, { apps: {} }, kek).put('shop', {
    bundleId: 'com.evil.shop',
    credentials: tokenUpload(),
  });
  await newRegistry(redis, prefix, { apps: {} }, kek).put('news', {
    bundleId: 'com.example.news',
    credentials: tokenUpload(),
  });
  await within('the other app', () => d.get('news') !== undefined);
  assert.deepEqual(changes, [['news']], 'no change event for the config app');
  const shop = d.get('shop')!;
  assert.deepEqual(
    [shop.source, shop.config.bundleId, shop.revision],
    ['config', 'com.example.shop', 'config'],
  );
  const material = await d.credentials('shop');
  assert.equal(material.type === 'token' && material.keyPem, fixture.key.privateKeyPem, 'read from its file');
  assert.deepEqual(d.ids().sort(), ['news', 'shop']);
  assert.equal((await registry.get('shop'))?.source, 'config');
});

test('idle cost: one GET of the version per poll, whatever the number of apps', async () => {
  const prefix = freshPrefix();
  const kek = newKek();
  const registry = newRegistry(redis, prefix, config, kek);
  const token = tokenUpload();
  for (let i = 0; i < 300; i++)
    await registry.put(`app-${i}`, { bundleId: `com.example.app${i}`, credentials: token });
  const commands = await connection();
  const sent: string[] = [];
  const send = commands.sendCommand.bind(commands);
  commands.sendCommand = ((command: { name: string; args: unknown[] }) => {
    sent.push(`${command.name} ${String(command.args[0])}`);
    return send(command as never);
  }) as typeof commands.sendCommand;
  const d = await openAppDirectory({ redis: commands, prefix, config, kek, pollMs: 100 });
  opened.push(d);
  assert.equal(d.ids().length, 301);
  sent.length = 0;
  await new Promise((r) => setTimeout(r, 1050));
  assert.ok(sent.length >= 8 && sent.length <= 12, `${sent.length} commands in ~10 polls`);
  assert.deepEqual(new Set(sent), new Set([`get ${registryKeys.version(prefix)}`]));
  // One change: the message re-reads that app alone.
  sent.length = 0;
  await registry.disable('app-7');
  await within('the change', () => d.get('app-7')?.state === 'disabled');
  assert.ok(sent.includes(`hmget ${registryKeys.apps(prefix)}`));
  assert.ok(!sent.some((c) => c.startsWith('hgetall')), 'no full reload for a change in order');
});

function watch(prefix: string, kek: Buffer | undefined) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/registry/directory-process.ts'],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        PF_TEST_REDIS_URL: server.url,
        PF_TEST_PREFIX: prefix,
        ...(kek ? { PF_TEST_KEK: kek.toString('hex') } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    exit,
    async next(): Promise<unknown> {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no line from the directory process within 15 s')), 15_000).unref(),
      );
      const line = await Promise.race([lines.next(), timeout]);
      if (line.done) throw new Error('the directory process ended');
      return JSON.parse(line.value);
    },
    stop() {
      child.stdin?.end();
      setTimeout(() => child.kill(), 2000).unref();
    },
  };
}
