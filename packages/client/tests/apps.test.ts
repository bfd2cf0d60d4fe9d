// The SDK's admin API (client.apps) against the real api over HTTP, serving registry apps.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { waitFor } from '@pushfleet/testkit';
import { p12Upload, secretsOf, tokenUpload } from '../../../apps/api/tests/credentials.ts';
import { emptyAppQueues, startTestApi, type TestApi, token } from '../../../apps/api/tests/helpers.ts';
import { type PushfleetApiError, PushfleetClient } from '../src/index.ts';

let t: TestApi;
let client: PushfleetClient;

before(async () => {
  t = await startTestApi({}, { registry: { kek: randomBytes(32), pollMs: 200 } });
  const address = await t.api.listen({ host: '127.0.0.1', port: 0 });
  client = new PushfleetClient({ baseUrl: address, retryBaseMs: 1 });
});
after(async () => t.close());

const code = (expected: string) => (err: PushfleetApiError) => {
  assert.equal(err.code, expected, err.message);
  return true;
};

test('client.apps: put, get, list, putCredentials, disable, enable, delete — typed, and no key material back', async () => {
  const key = tokenUpload();
  const created = await client.apps.put('news', {
    bundleId: 'com.example.news',
    environments: ['sandbox'],
    credentials: key,
  });
  assert.equal(created.app.source, 'registry');
  const info = created.app.credentials;
  assert.equal(info?.type === 'token' && info.keyId, key.keyId);
  assert.deepEqual(created.warnings, []);
  assert.deepEqual(await client.apps.get('news'), created.app);
  assert.deepEqual(
    (await client.apps.list()).map((app) => `${app.id}:${app.source}`),
    ['demo:config', 'news:registry', 'other:config'],
  );

  // Served by the send routes once the api's directory has it.
  await waitFor('news is served', async () =>
    client
      .sendNotification('news', { tokens: [token(1)], notification: { alert: 'hi' } })
      .then(() => true)
      .catch(() => undefined),
  );

  const p12 = p12Upload(['com.example.news']);
  const rotated = await client.apps.putCredentials('news', p12.upload);
  const cert = rotated.app.credentials;
  assert.equal(cert?.type, 'certificate');
  assert.ok(cert?.type === 'certificate' && Date.parse(cert.notAfter) > Date.now());

  const updated = await client.apps.put('news', {
    bundleId: 'com.example.news',
    environments: ['sandbox'],
    rateLimitPerSecond: 10,
  });
  assert.equal(updated.app.settings.rateLimitPerSecond, 10);
  assert.equal(updated.app.credentials?.fingerprint, cert?.fingerprint, 'credentials kept');

  assert.equal((await client.apps.disable('news')).state, 'disabled');
  await waitFor('news refused while disabled', async () =>
    client
      .sendNotification('news', { tokens: [token(1)], notification: { alert: 'hi' } })
      .then(() => undefined)
      .catch((err: PushfleetApiError) => (err.code === 'PF_ERR_APP_DISABLED' ? true : undefined)),
  );
  assert.equal((await client.apps.enable('news')).state, 'active');

  await assert.rejects(client.apps.delete('news'), code('PF_ERR_APP_HAS_WORK'));
  await emptyAppQueues(t.queues, 'news');
  await client.apps.delete('news');
  await assert.rejects(client.apps.get('news'), code('PF_ERR_UNKNOWN_APP'));

  const everything = JSON.stringify([created, rotated, updated]);
  for (const secret of secretsOf(key, p12.upload, { keyPem: p12.keyPem }))
    assert.ok(!everything.includes(secret), 'no key material in answers');
});

test('client.apps errors carry the code and field: read-only config apps, bad credentials', async () => {
  await assert.rejects(client.apps.disable('demo'), code('PF_ERR_APP_READ_ONLY'));
  await assert.rejects(
    client.apps.put('bad', { bundleId: 'com.example.bad', credentials: { ...tokenUpload(), keyPem: 'no' } }),
    (err: PushfleetApiError) =>
      err.status === 400 && err.code === 'PF_ERR_BAD_CREDENTIALS' && err.field === 'credentials.keyPem',
  );
});
