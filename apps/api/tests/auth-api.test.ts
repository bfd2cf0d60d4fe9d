import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hashApiKeySha256 } from '../src/auth.ts';
import { startTestApi, type TestApi, token } from './helpers.ts';

let t: TestApi;
const keys = {
  sender: 'pf_sender_0123456789abcdef',
  reader: 'pf_reader_0123456789abcdef',
  otherApp: 'pf_other_0123456789abcdef',
  admin: 'pf_admin_0123456789abcdef',
};

before(async () => {
  t = await startTestApi({
    keys: [
      { id: 'sender', hash: hashApiKeySha256(keys.sender), apps: ['demo'], permissions: ['send'] },
      { id: 'reader', hash: hashApiKeySha256(keys.reader), apps: ['demo'], permissions: ['read'] },
      { id: 'other', hash: hashApiKeySha256(keys.otherApp), apps: ['other'], permissions: ['send'] },
      { id: 'admin', hash: hashApiKeySha256(keys.admin), apps: ['*'], permissions: ['admin'] },
    ],
    rateLimit: { requestsPerSecond: 1, burst: 3 },
  });
});

after(async () => t.close());

const send = (
  key: string | undefined,
  app = 'demo',
  body: unknown = { tokens: [token(1)], notification: {} },
) =>
  t.api.inject({
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    payload: JSON.stringify(body),
  });

test('401 without a key, with a malformed header, and with an unknown key — nothing enqueued', async () => {
  for (const res of [
    await send(undefined),
    await send('not-a-configured-key'),
    await t.api.inject({
      method: 'POST',
      url: '/v1/apps/demo/notifications',
      headers: { authorization: 'Basic x' },
    }),
  ]) {
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, 'PF_ERR_UNAUTHORIZED');
  }
  assert.equal(await t.queuedJobs(), 0);
});

test('401 comes before body parsing: a bad body without a key is still 401', async () => {
  const res = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    headers: { 'content-type': 'application/json' },
    payload: '{"tokens": [',
  });
  assert.equal(res.statusCode, 401);
});

test('403 for a key not scoped to the app, and for a missing permission', async () => {
  const wrongApp = await send(keys.otherApp, 'demo');
  assert.equal(wrongApp.statusCode, 403);
  assert.equal(wrongApp.json().code, 'PF_ERR_FORBIDDEN');
  const readOnly = await send(keys.reader, 'demo');
  assert.equal(readOnly.statusCode, 403);
  assert.match(readOnly.json().message, /send/);
  assert.equal(await t.queuedJobs(), 0);
});

test('a scoped key sends; a read key reads; admin does both on any app', async () => {
  const sent = await send(keys.sender);
  assert.equal(sent.statusCode, 202, sent.body);
  const { id } = sent.json() as { id: string };
  const read = await t.api.inject({
    method: 'GET',
    url: `/v1/apps/demo/notifications/${id}`,
    headers: { authorization: `Bearer ${keys.reader}` },
  });
  assert.equal(read.statusCode, 200);
  const senderReads = await t.api.inject({
    method: 'GET',
    url: `/v1/apps/demo/notifications/${id}`,
    headers: { authorization: `Bearer ${keys.sender}` },
  });
  assert.equal(senderReads.statusCode, 403);
  assert.equal((await send(keys.admin, 'other')).statusCode, 202);
});

test('per-key rate limit: 429 with Retry-After once the burst is spent, other keys unaffected', async () => {
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await send(keys.otherApp, 'other')).statusCode);
  assert.ok(codes.includes(429), String(codes));
  const limited = await send(keys.otherApp, 'other');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().code, 'PF_ERR_RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  const docs = await t.api.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(docs.statusCode, 200, 'docs need no key');
});
