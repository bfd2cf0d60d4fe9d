import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createRedis } from '@pushfleet/queue';
import { appSpace, IdempotencyStore } from '@pushfleet/store';
import { type FakeTransport, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import { startFakeDelivery, startTestApi, type TestApi, token } from './helpers.ts';

let server: StartedRedis;
let t: TestApi;
let clock = Date.now();
before(async () => {
  server = await startRedis();
  t = await startTestApi({ idempotencyTtlSeconds: 60 }, { redisServer: server, now: () => clock });
});
after(async () => {
  await t.close();
  await server.stop();
});

const send = (key: string | undefined, body: unknown, app = 'demo') =>
  t.api.inject({
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    headers: { 'content-type': 'application/json', ...(key && { 'idempotency-key': key }) },
    payload: JSON.stringify(body),
  });

/** Notification records of an app: exactly what was accepted. */
const records = async (app: string) => {
  const base = `${appSpace(t.prefix, app)}:n:`;
  return (await t.redis.keys(`${base}*`)).filter((k) => !k.slice(base.length).includes(':')).sort();
};

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

test('a key still in progress is 409; a claim whose request died is taken over after its lease', async () => {
  const store = new IdempotencyStore(t.redis, t.prefix, { ttlSeconds: 60, leaseMs: 30_000 });
  const body = { tokens: [token(12)], notification: {} };
  const fp = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  const ref = { app: 'demo', scope: 'anonymous:/v1/apps/:app/notifications', key: 'k4' };
  // Another request holds the key (pending): simulate it by claiming it first.
  assert.equal((await store.begin(ref, fp, clock)).kind, 'new');
  const res = await send('k4', body);
  assert.equal(res.statusCode, 409);
  assert.equal(res.json().code, 'PF_ERR_IDEMPOTENCY_IN_PROGRESS');
  clock += 31_000; // that request died without committing: its lease ran out
  const retry = await send('k4', body);
  assert.equal(retry.statusCode, 202, retry.body);
});

test('a key used again after its answer expired names a new notification, which is sent (finding 3)', async () => {
  const body = { tokens: [token(20)], notification: { alert: 'again' } };
  const first = await send('reused', body, 'other');
  assert.equal(first.statusCode, 202);
  // The stored answer expires (api.idempotencyTtlSeconds is 60 here).
  const space = appSpace(t.prefix, 'other');
  for (const key of await t.redis.keys(`${space}:idempotency:*`)) await t.redis.del(key);
  const second = await send('reused', body, 'other');
  assert.equal(second.statusCode, 202);
  assert.equal(second.headers['idempotent-replayed'], undefined);
  assert.notEqual(second.json().id, first.json().id, 'never the id of the earlier use');
  const workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
  const delivery = await startFakeDelivery(workerRedis, t.prefix, ['other']);
  try {
    for (const id of [first.json().id, second.json().id]) {
      await waitFor(`${id} done`, async () => {
        const s = await t.api.inject({ method: 'GET', url: `/v1/apps/other/notifications/${id}` });
        return s.json().state === 'done' && s.json().delivered === 1;
      });
    }
    assert.equal((delivery.transport as FakeTransport).sends.get(token(20)), 2, 'both uses were sent');
  } finally {
    await delivery.close();
    workerRedis.disconnect();
  }
});

test('503 after Redis committed: the retry with the same key gets the same answer, sent once (finding 4)', async () => {
  const before = await records('demo');
  const body = { tokens: [token(30), token(31)], notification: { alert: 'lost reply' } };
  // The accepting transaction runs, its reply is lost (a command timeout).
  t.faults.arm({ command: 'multi', mode: 'fail-after' });
  const lost = await send('lost-reply', body);
  assert.equal(lost.statusCode, 503, lost.body);
  assert.equal(lost.json().code, 'PF_ERR_REDIS_UNAVAILABLE');
  const retry = await send('lost-reply', body);
  assert.equal(retry.statusCode, 202);
  assert.equal(retry.headers['idempotent-replayed'], 'true');
  const id = retry.json().id as string;
  const added = (await records('demo')).filter((k) => !before.includes(k));
  assert.deepEqual(added, [`${appSpace(t.prefix, 'demo')}:n:${id}`], 'one record, the answered one');
  const status = await t.api.inject({ method: 'GET', url: `/v1/apps/demo/notifications/${id}` });
  assert.equal(status.json().accepted, 2);
});

test('503 before Redis committed: nothing was accepted, and the retry is accepted once', async () => {
  const before = await records('demo');
  const jobsBefore = await t.queuedJobs();
  const body = { tokens: [token(40)], notification: { alert: 'not sent' } };
  t.faults.arm({ command: 'multi', mode: 'fail-before' });
  const failed = await send('never-committed', body);
  assert.equal(failed.statusCode, 503);
  assert.deepEqual(await records('demo'), before, 'no record');
  assert.equal(await t.queuedJobs(), jobsBefore, 'no job');
  const retry = await send('never-committed', body);
  assert.equal(retry.statusCode, 202);
  assert.equal(retry.headers['idempotent-replayed'], undefined);
  assert.equal((await records('demo')).length, before.length + 1);
  assert.equal(await t.queuedJobs(), jobsBefore + 1);
  // Without a key, a 503 before the commit also leaves nothing behind.
  t.faults.arm({ command: 'multi', mode: 'fail-before' });
  assert.equal((await send(undefined, { tokens: [token(41)], notification: {} })).statusCode, 503);
  assert.equal((await records('demo')).length, before.length + 1);
});
