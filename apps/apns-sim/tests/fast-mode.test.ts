import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, randomToken, startFixture } from './helpers.ts';

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
