import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestApi, type TestApi, token } from './helpers.ts';

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => t.close());

const send = (key: string, body: unknown) =>
  t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    payload: JSON.stringify(body),
  });

test('same Idempotency-Key → same answer, nothing enqueued twice', async () => {
  const body = { tokens: Array.from({ length: 700 }, (_, i) => token(i + 1)), notification: { alert: 'x' } };
  const first = await send('order-42', body);
  assert.equal(first.statusCode, 202);
  const jobs = await t.queuedJobs();
  assert.equal(jobs, 2);
  const again = await Promise.all([send('order-42', body), send('order-42', body)]);
  for (const res of again) {
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), first.json());
    assert.equal(res.headers['idempotent-replayed'], 'true');
  }
  assert.equal(await t.queuedJobs(), jobs);
});

test('a reused key with a different body is 422; a failed request frees its key', async () => {
  const ok = await send('k2', { tokens: [token(9)], notification: {} });
  assert.equal(ok.statusCode, 202);
  const other = await send('k2', { tokens: [token(10)], notification: {} });
  assert.equal(other.statusCode, 422);
  assert.equal(other.json().code, 'PF_ERR_IDEMPOTENCY_MISMATCH');

  const bad = await send('k3', { tokens: ['zz'], notification: {} });
  assert.equal(bad.statusCode, 400);
  const fixed = await send('k3', { tokens: [token(11)], notification: {} });
  assert.equal(fixed.statusCode, 202, 'the key was not burnt by the invalid request');
});

test('a key still in progress is 409', async () => {
  const { IdempotencyStore } = await import('@pushfleet/store');
  const store = new IdempotencyStore(t.redis, t.prefix);
  // Another request holds the key (pending) — simulate it by claiming it first.
  const body = { tokens: [token(12)], notification: {} };
  const { createHash } = await import('node:crypto');
  const fp = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  assert.equal((await store.begin('anonymous:demo:/v1/apps/:app/notifications', 'k4', fp)).kind, 'new');
  const res = await send('k4', body);
  assert.equal(res.statusCode, 409);
  assert.equal(res.json().code, 'PF_ERR_IDEMPOTENCY_IN_PROGRESS');
});
