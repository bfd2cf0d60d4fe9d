import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, randomToken, request, startFixture, TOPIC } from './helpers.ts';

test('fast mode: 200 for anything, counts only', async () => {
  const f = await startFixture({ mode: 'fast' });
  try {
    const s = await f.connect();
    const id = '0f7f3a1e-7d8b-4d6b-9c1f-2a6d5b1c9e00';
    const ok = await post(s, `/3/device/${randomToken()}`, { 'apns-id': id }, '{}');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['apns-id'], id);
    // No auth, bad token, no topic: still 200 — this is the benchmark sink.
    const any = await post(s, '/3/device/nothex', {}, '');
    assert.equal(any.status, 200);
    assert.ok(any.headers['apns-id']);
    const stats = await f.control('GET', '/stats');
    assert.equal(stats.body.accepted, 2);
    assert.equal(stats.body.deliveriesTotal, 2);
    assert.equal(stats.body.duplicates, null);
    assert.equal((await f.control('GET', '/deliveries?token=ab')).status, 409);
    assert.deepEqual((await f.control('GET', '/deliveries/summary')).body, {
      tokens: null,
      deliveries: 2,
      duplicateTokens: null,
      duplicates: null,
    });
  } finally {
    await f.close();
  }
});

test('fast mode: the channel port still validates (channels are state, not throughput)', async () => {
  const f = await startFixture({ mode: 'fast' });
  try {
    const c = await f.connectChannels();
    const body = JSON.stringify({ 'message-storage-policy': 0, 'push-type': 'LiveActivity' });
    const anonymous = await request(c, 'POST', `/1/apps/${TOPIC}/channels`, {}, body);
    assert.deepEqual([anonymous.status, anonymous.body], [403, { reason: 'MissingProviderToken' }]);
    const created = await request(c, 'POST', `/1/apps/${TOPIC}/channels`, { authorization: f.bearer }, body);
    assert.equal(created.status, 201);
    // The provider port is the sink for broadcasts as for everything else.
    const s = await f.connect();
    assert.equal((await post(s, `/4/broadcasts/apps/${TOPIC}`, {}, '')).status, 200);
  } finally {
    await f.close();
  }
});
