import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi, token } from '../../../apps/api/tests/helpers.ts';
import { type ClientOptions, type PushfleetApiError, PushfleetClient } from '../src/index.ts';

let t: TestApi;
let client: PushfleetClient;

before(async () => {
  t = await startTestApi();
  const address = await t.api.listen({ host: '127.0.0.1', port: 0 });
  client = new PushfleetClient({ baseUrl: address, retryBaseMs: 1 });
});
after(async () => t.close());

test('every endpoint, typed: devices, notifications, campaigns (streamed upload), feedback', async () => {
  const device = await client.registerDevice('demo', token(1), { userId: 'u1', tags: ['vip'] });
  assert.equal(device.userId, 'u1');
  assert.deepEqual((await client.getDevice('demo', token(1))).tags, ['vip']);
  assert.equal((await client.importDevices('demo', [{ token: token(2), tags: ['vip'] }])).imported, 1);

  const sent = await client.sendNotification('demo', { tags: ['vip'], notification: { alert: 'hi' } });
  assert.equal(sent.accepted, 2);
  assert.equal((await client.getNotification('demo', sent.id)).accepted, 2);

  async function* tokens() {
    for (let i = 0; i < 3000; i++) yield token(10_000 + i);
  }
  const upload = await client.uploadCampaign('demo', { name: 'c1', notification: { alert: 'x' } }, tokens);
  assert.equal(upload.total, 3000);
  const status = await client.getCampaign('demo', upload.campaignId);
  assert.equal(status.name, 'c1');
  const inline = await client.createCampaign('demo', {
    notification: { alert: 'y' },
    audience: { kind: 'users', userIds: ['u1'] },
    sendAt: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal((await client.listCampaigns('demo')).items.length, 2);
  assert.equal((await client.cancelCampaign('demo', inline.campaignId)).state, 'cancelled');
  assert.deepEqual((await client.feedback('demo')).items, []);
  await client.unregisterDevice('demo', token(1));

  await assert.rejects(client.getDevice('demo', token(1)), (err: PushfleetApiError) => {
    assert.equal(err.status, 404);
    assert.equal(err.code, 'PF_ERR_NOT_FOUND');
    return true;
  });
  await assert.rejects(
    client.sendNotification('demo', { tokens: ['zz'], notification: {} }),
    (err: PushfleetApiError) => err.code === 'PF_ERR_BAD_DEVICE_TOKEN' && err.field === 'tokens.0',
  );
});

/** An error answer as the API sends it. */
const apiError = (status: number, code: string) =>
  new Response(JSON.stringify({ code, message: code }), { status });

/** A client whose every request gets the same error answer; `counter.calls` counts the requests. */
function alwaysAnswering(status: number, code: string, options: Partial<ClientOptions> = {}) {
  const counter = { calls: 0 };
  const client = new PushfleetClient({
    baseUrl: 'http://x',
    retryBaseMs: 1,
    ...options,
    fetch: async () => {
      counter.calls++;
      return apiError(status, code);
    },
  });
  return { client, counter };
}

test('retries 429 and 503 with backoff (honouring Retry-After) under one idempotency key', async () => {
  const seen: { status: number; key: string | null }[] = [];
  const answers = [503, 429, 202];
  const fake: typeof fetch = async (_url, init) => {
    const status = answers.shift()!;
    seen.push({ status, key: new Headers(init?.headers).get('idempotency-key') });
    const body =
      status === 202 ? { id: 'x', accepted: 1 } : { code: 'PF_ERR_RATE_LIMITED', message: 'slow down' };
    return new Response(JSON.stringify(body), {
      status,
      headers: status === 429 ? { 'retry-after': '0' } : {},
    });
  };
  const retrying = new PushfleetClient({ baseUrl: 'http://x', fetch: fake, retryBaseMs: 1 });
  const res = await retrying.sendNotification('demo', { tokens: [token(1)], notification: {} });
  assert.deepEqual(res, { id: 'x', accepted: 1 });
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen.map((s) => s.key)).size, 1, 'the same key on every attempt');

  const giveUp = alwaysAnswering(503, 'PF_ERR_REDIS_UNAVAILABLE', { maxAttempts: 2 }).client;
  await assert.rejects(giveUp.getCampaign('demo', 'c'), (err: PushfleetApiError) => err.status === 503);
});

test('waitForCampaign waits through a store that is unavailable for longer than one request retries, and through dropped connections', async () => {
  const answers: (number | 'drop')[] = [503, 503, 503, 'drop', 503, 503, 503, 503, 200, 503, 200];
  const states = ['running', 'done'];
  const fake: typeof fetch = async () => {
    const next = answers.shift();
    if (next === 'drop') throw new TypeError('fetch failed');
    if (next === 503) return apiError(503, 'PF_ERR_REDIS_UNAVAILABLE');
    return new Response(JSON.stringify({ id: 'c1', state: states.shift() }), { status: 200 });
  };
  const polling = new PushfleetClient({ baseUrl: 'http://x', fetch: fake, maxAttempts: 2, retryBaseMs: 1 });
  const seen: string[] = [];
  const final = await polling.waitForCampaign('demo', 'c1', {
    intervalMs: 1,
    timeoutMs: 10_000,
    onProgress: (s) => seen.push(s.state),
  });
  assert.equal(final.state, 'done');
  assert.deepEqual(seen, ['running', 'done']);
  assert.equal(answers.length, 0);

  // Not transient: an unknown campaign ends the wait at once.
  const missing = alwaysAnswering(404, 'PF_ERR_NOT_FOUND');
  await assert.rejects(
    missing.client.waitForCampaign('demo', 'nope', { intervalMs: 1, timeoutMs: 10_000 }),
    (err: PushfleetApiError) => err.status === 404,
  );
  assert.equal(missing.counter.calls, 1);

  // Unavailable past the deadline: the last error, not a wait without end.
  const down = alwaysAnswering(503, 'PF_ERR_REDIS_UNAVAILABLE', { maxAttempts: 1 }).client;
  await assert.rejects(
    down.waitForCampaign('demo', 'c1', { intervalMs: 5, timeoutMs: 100 }),
    (err: PushfleetApiError) => err.code === 'PF_ERR_REDIS_UNAVAILABLE',
  );
});

test('an Idempotency-Key still in progress (our own lost attempt) is asked again under the same key; other 409s are not', async () => {
  const keys: (string | null)[] = [];
  const answers = [409, 409, 202];
  const fake: typeof fetch = async (_url, init) => {
    keys.push(new Headers(init?.headers).get('idempotency-key'));
    const status = answers.shift()!;
    return status === 202
      ? new Response(JSON.stringify({ id: 'x', accepted: 1 }), { status })
      : apiError(status, 'PF_ERR_IDEMPOTENCY_IN_PROGRESS');
  };
  const retrying = new PushfleetClient({ baseUrl: 'http://x', fetch: fake, retryBaseMs: 1 });
  assert.deepEqual(await retrying.sendNotification('demo', { tokens: [token(1)], notification: {} }), {
    id: 'x',
    accepted: 1,
  });
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 1, 'the same key on every attempt');

  const conflict = alwaysAnswering(409, 'PF_ERR_APP_HAS_WORK');
  await assert.rejects(
    conflict.client.apps.delete('shop'),
    (err: PushfleetApiError) => err.code === 'PF_ERR_APP_HAS_WORK',
  );
  assert.equal(conflict.counter.calls, 1);
});
