// The app registry in Redis: create, update, rotate, disable, enable, delete; config apps read-only;
// every refusal with its PF_ERR_ code and field; credentials sealed at rest and never shown.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PushfleetError } from '@pushfleet/core';
import { type AppRegistry, registryKeys } from '@pushfleet/store';
import { generateProviderKey, useRedis, waitFor } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import {
  certificateUpload,
  dumpPrefix,
  freshPrefix,
  newKek,
  newRegistry,
  p12Upload,
  pemBodyLines,
  testConfig,
  tokenUpload,
} from './helpers.ts';

let redis: Redis;
const fixture = testConfig();
const { config } = fixture;

useRedis((started) => {
  redis = started.redis;
});
after(async () => {
  fixture.cleanup();
});

const code = (expected: string, field?: string) => (err: PushfleetError) => {
  assert.equal(err.code, expected, err.message);
  if (field !== undefined) assert.equal(err.field, field, err.message);
  return true;
};

test('an app through its life: create, read, list, update, rotate, disable, enable, delete', async () => {
  const prefix = freshPrefix();
  const registry = newRegistry(redis, prefix, config, newKek());
  const sub = redis.duplicate();
  const messages: { version: number; ids: string[] }[] = [];
  sub.on('message', (_channel, text) => messages.push(JSON.parse(text)));
  await sub.subscribe(registryKeys.changes(prefix));

  const key = generateProviderKey();
  const created = await registry.put('news', {
    bundleId: 'com.example.news',
    environments: ['production', 'sandbox'],
    credentials: tokenUpload(key),
  });
  assert.equal(created.created, true);
  assert.deepEqual(created.warnings, []);
  const app = created.app;
  assert.deepEqual([app.id, app.source, app.state, app.revision], ['news', 'registry', 'active', '1']);
  assert.deepEqual(app.settings.environments, ['production', 'sandbox']);
  assert.deepEqual(app.settings.connections, { min: 1, max: 8, idleCloseMs: 300_000, shrinkAfterMs: 30_000 });
  assert.equal(app.credentials?.type, 'token');
  assert.equal(app.credentials?.type === 'token' && app.credentials.keyId, key.keyId);
  assert.match(app.credentials?.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.deepEqual(await registry.get('news'), app);

  const listed = (await registry.page({ limit: 100, visible: () => true })).items;
  assert.deepEqual(
    listed.map((a) => [a.id, a.source]),
    [
      ['news', 'registry'],
      ['shop', 'config'],
    ],
  );
  const shop = listed[1]!;
  assert.equal(shop.credentials?.type === 'token' && shop.credentials.keyId, fixture.key.keyId);
  assert.equal(shop.settings.feedback?.webhook?.secret, '[redacted]');

  const updated = await registry.put('news', {
    bundleId: 'com.example.news',
    connections: { min: 0, max: 2 },
    rateLimitPerSecond: 50,
  });
  assert.equal(updated.created, false);
  assert.equal(updated.app.revision, '2');
  assert.deepEqual(updated.app.settings.environments, ['production'], 'PUT replaces the settings');
  assert.equal(updated.app.settings.rateLimitPerSecond, 50);
  assert.equal(updated.app.credentials?.fingerprint, app.credentials?.fingerprint, 'credentials kept');
  assert.equal(updated.app.createdAt, app.createdAt);

  const { upload } = p12Upload(['com.example.news']);
  const rotated = await registry.putCredentials('news', upload);
  assert.equal(rotated.app.revision, '3');
  const info = rotated.app.credentials;
  assert.equal(info?.type, 'certificate');
  if (info?.type !== 'certificate') return;
  assert.deepEqual(info.topics, ['com.example.news']);
  assert.match(info.subject, /Apple Push Services: com\.example\.news/);
  assert.ok(Date.parse(info.notAfter) > Date.now());

  const disabled = await registry.disable('news');
  assert.deepEqual(
    [disabled.state, disabled.revision],
    ['disabled', '3'],
    'a state change keeps the revision',
  );
  assert.equal((await registry.disable('news')).state, 'disabled', 'idempotent');
  assert.equal((await registry.enable('news')).state, 'active');

  await assert.rejects(
    registry.delete('news', async () => true),
    code('PF_ERR_APP_HAS_WORK'),
  );
  assert.ok(await registry.get('news'), 'not deleted while it has work');
  const asked: string[] = [];
  await registry.delete('news', async (id) => {
    asked.push(id);
    return false;
  });
  assert.deepEqual(asked, ['news']);
  assert.equal(await registry.get('news'), undefined);
  assert.equal(await redis.hexists(registryKeys.secrets(prefix), 'news'), 0, 'sealed credentials deleted');
  await assert.rejects(
    registry.delete('news', async () => false),
    code('PF_ERR_UNKNOWN_APP'),
  );

  // Every change: one version, one message naming the app, in order (the idempotent disable wrote nothing).
  assert.equal(await redis.get(registryKeys.version(prefix)), '6');
  await waitFor('six change messages', () => messages.length === 6);
  assert.deepEqual(
    messages,
    [1, 2, 3, 4, 5, 6].map((version) => ({ version, ids: ['news'] })),
  );
  sub.disconnect();
});

test('refusals carry their code and field; nothing is written', async () => {
  const prefix = freshPrefix();
  const registry = newRegistry(redis, prefix, config, newKek());
  const token = tokenUpload();

  for (const call of [
    () => registry.put('shop', { bundleId: 'com.example.shop', credentials: token }),
    () => registry.putCredentials('shop', token),
    () => registry.disable('shop'),
    () => registry.delete('shop', async () => false),
  ]) {
    await assert.rejects(call(), code('PF_ERR_APP_READ_ONLY'));
  }
  await assert.rejects(
    registry.put('Bad_Id', { bundleId: 'a.b', credentials: token }),
    code('PF_ERR_VALIDATION', 'app'),
  );
  await assert.rejects(
    registry.put('news', { bundleId: 'com.example.news' }),
    code('PF_ERR_VALIDATION', 'credentials'),
  );
  await assert.rejects(
    registry.put('news', { bundleId: 'not valid!', credentials: token }),
    code('PF_ERR_VALIDATION', 'bundleId'),
  );
  await assert.rejects(
    registry.put('news', { bundleId: 'a.b', connections: { min: 4, max: 2 }, credentials: token }),
    code('PF_ERR_VALIDATION', 'connections'),
  );
  await assert.rejects(
    registry.put('news', { bundleId: 'a.b', credentials: token, surprise: 1 }),
    code('PF_ERR_VALIDATION'),
  );
  await assert.rejects(
    registry.put('news', {
      bundleId: 'a.b',
      credentials: token,
      feedback: { legacyEndpoint: { host: 'h', port: 2196, pfxFile: '/x.p12' } },
    }),
    code('PF_ERR_VALIDATION', 'feedback.legacyEndpoint'),
  );
  await assert.rejects(
    registry.put('news', {
      bundleId: 'a.b',
      credentials: { type: 'certificate', pfx: 'AAAA', certPem: 'x' },
    }),
    code('PF_ERR_VALIDATION', 'credentials'),
  );

  // The upload problems the issue names, each a 400 naming the part at fault.
  const p12 = p12Upload(['com.example.news']);
  const p256 = await import('node:crypto').then(({ generateKeyPairSync }) =>
    generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  );
  const bad: [unknown, string, RegExp][] = [
    [{ ...p12.upload, passphrase: 'not-the-passphrase' }, 'credentials.passphrase', /wrong passphrase/],
    [{ ...token, keyPem: p256 }, 'credentials.keyPem', /not an EC P-256 key/],
    [certificateUpload(['com.example.news'], { expired: true }), 'credentials.certPem', /expired/],
    [
      certificateUpload(['com.other.app']),
      'credentials.certPem',
      /does not cover bundle id com\.example\.news/,
    ],
    [{ ...token, keyId: 'nope' }, 'credentials.keyId', /key id/],
  ];
  for (const [credentials, field, message] of bad) {
    await assert.rejects(
      registry.put('news', { bundleId: 'com.example.news', credentials }),
      (err: PushfleetError) => {
        code('PF_ERR_BAD_CREDENTIALS', field)(err);
        assert.match(err.message, message);
        assert.equal(err.status, 400);
        for (const line of [
          ...pemBodyLines(token.keyPem),
          ...pemBodyLines(p12.keyPem),
          ...pemBodyLines(p256),
        ]) {
          assert.ok(!err.message.includes(line), 'an error quotes key material');
        }
        assert.ok(
          !err.message.includes('not-the-passphrase') && !err.message.includes(p12.upload.passphrase),
        );
        return true;
      },
    );
  }
  assert.equal(await redis.get(registryKeys.version(prefix)), null, 'no refusal wrote anything');

  // Rotation is checked against the app's settings; its fields name the upload's parts.
  await registry.put('news', { bundleId: 'com.example.news', credentials: token });
  await assert.rejects(
    registry.putCredentials('news', { ...p12.upload, passphrase: 'wrong-one' }),
    code('PF_ERR_BAD_CREDENTIALS', 'passphrase'),
  );
  await assert.rejects(registry.putCredentials('ghost', token), code('PF_ERR_UNKNOWN_APP'));
  await assert.rejects(registry.disable('ghost'), code('PF_ERR_UNKNOWN_APP'));
  // A certificate covers its topics: a bundle id it does not cover is refused until new credentials come.
  await registry.putCredentials('news', p12.upload);
  await assert.rejects(
    registry.put('news', { bundleId: 'com.example.renamed' }),
    code('PF_ERR_VALIDATION', 'bundleId'),
  );
  assert.equal(
    (await registry.put('news', { bundleId: 'com.example.renamed', credentials: token })).app.revision,
    '3',
  );
});

test('without a key-encryption key, storing credentials or a webhook secret is refused', async () => {
  const prefix = freshPrefix();
  const registry: AppRegistry = newRegistry(redis, prefix, config, undefined);
  await assert.rejects(
    registry.put('news', { bundleId: 'com.example.news', credentials: tokenUpload() }),
    (err: PushfleetError) =>
      err.code === 'PF_ERR_ENCRYPTION_KEY_MISSING' &&
      err.status === 500 &&
      /appRegistry\.keyEncryptionKey/.test(err.message),
  );
  assert.equal(await redis.exists(registryKeys.apps(prefix), registryKeys.version(prefix)), 0);
  // Reads still work: the config app is listed.
  assert.deepEqual(
    (await registry.page({ limit: 100, visible: () => true })).items.map((a) => a.id),
    ['shop'],
  );
});

test('at rest and in every view: no PEM, no key material, no passphrase, no webhook secret', async () => {
  const prefix = freshPrefix();
  const registry = newRegistry(redis, prefix, config, newKek());
  const token = tokenUpload();
  const pem = certificateUpload(['com.example.pem']);
  const p12 = p12Upload(['com.example.p12'], 'p12-secret-passphrase');
  const webhookSecret = 'whsec-0123456789abcdef';
  const views = [
    await registry.put('token-app', {
      bundleId: 'com.example.token',
      credentials: token,
      feedback: { webhook: { url: 'https://user:pw-in-url@hooks.example.com/pf', secret: webhookSecret } },
    }),
    await registry.put('pem-app', { bundleId: 'com.example.pem', credentials: pem }),
    await registry.put('p12-app', { bundleId: 'com.example.p12', credentials: p12.upload }),
  ];
  views.push({ app: (await registry.page({ limit: 1, visible: () => true })).items[0]!, warnings: [] });
  const atRest = await dumpPrefix(redis, prefix);
  assert.ok(atRest.includes(registryKeys.secrets(prefix)), 'the dump covers the sealed credentials');
  const shown = JSON.stringify(views);
  for (const [where, text] of [
    ['Redis', atRest],
    ['the API views', shown],
  ] as const) {
    assert.ok(!text.includes('-----BEGIN'), `${where} holds a PEM`);
    assert.ok(!text.includes('PRIVATE KEY'), `${where} holds a private key`);
    for (const line of [
      ...pemBodyLines(token.keyPem),
      ...pemBodyLines(pem.keyPem),
      ...pemBodyLines(p12.keyPem),
    ]) {
      assert.ok(!text.includes(line), `${where} holds key material`);
    }
    assert.ok(!text.includes(p12.upload.pfx.slice(0, 64)), `${where} holds the .p12`);
    assert.ok(!text.includes('p12-secret-passphrase'), `${where} holds the passphrase`);
    assert.ok(!text.includes(webhookSecret), `${where} holds the webhook secret`);
  }
  assert.ok(!shown.includes('pw-in-url'), 'a URL password is hidden in views');
  assert.equal(views[0]!.app.settings.feedback?.webhook?.secret, '[redacted]');
});

test('apps are listed a page at a time, by id, only those the caller may see; a page reads only its own records', async () => {
  const prefix = freshPrefix();
  const registry = newRegistry(redis, prefix, config, newKek());
  const ids = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2'];
  const credentials = tokenUpload();
  for (const id of ids) await registry.put(id, { bundleId: `com.example.${id}`, credentials });
  const all = [...ids, 'shop'].sort();
  const walk = async (limit: number, visible: (id: string) => boolean) => {
    const seen: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await registry.page({ after, limit, visible });
      seen.push(page.items.map((a) => a.id));
      if (page.next === null) return seen;
      assert.equal(page.next, page.items.at(-1)?.id);
      after = page.next;
    }
  };
  assert.deepEqual(await walk(3, () => true), [all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
  assert.deepEqual(await walk(8, () => true), [all]);
  assert.deepEqual(await walk(2, (id) => id.startsWith('b') || id === 'shop'), [['b1', 'b2'], ['shop']]);
  assert.deepEqual(await walk(5, () => false), [[]]);

  // A record outside the page that could not even be parsed does not stop the page being read.
  await redis.hset(registryKeys.apps(prefix), 'zz-broken', '{not json');
  const first = await registry.page({ limit: 2, visible: () => true });
  assert.deepEqual(
    first.items.map((a) => [a.id, a.source]),
    [
      ['a1', 'registry'],
      ['a2', 'registry'],
    ],
  );
  assert.equal(first.next, 'a2');
});
