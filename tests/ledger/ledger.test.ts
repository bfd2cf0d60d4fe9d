import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { BatchRef } from '@pushfleet/core';
import { AppQueues } from '@pushfleet/queue';
import {
  appSpace,
  IdempotencyStore,
  Ledger,
  ledgerKeys,
  ledgerRetentionSeconds,
  PauseStore,
  scriptSource,
  scriptSpecs,
} from '@pushfleet/store';
import { useRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';

let redis: Redis;
useRedis((started) => {
  redis = started.redis;
});

const fresh = () => {
  const prefix = `ledger-${randomUUID().slice(0, 8)}`;
  return { prefix, ledger: new Ledger(redis, prefix), queues: new AppQueues(redis, prefix) };
};

async function accept(ledger: Ledger, queues: AppQueues, id: string, accepted: number, delayMs = 0) {
  const t = await queues.transaction('shop');
  ledger.records.stageNotification(t.tx, {
    app: 'shop',
    id,
    environment: 'production',
    accepted,
    now: Date.now(),
    delayMs,
  });
  await t.exec();
}

const ref = (id: string): BatchRef => ({
  app: 'shop',
  environment: 'production',
  notificationId: id,
  batchNo: 0,
  attempt: 0,
});
const step = (after: string, delivered: number, next: number | 'done', run = 'r1') => ({
  after,
  outcomes: { delivered, ended: [], invalidated: [] },
  state: next === 'done' ? ('done' as const) : { next, retry: [], retryReason: '', run },
  now: Date.now(),
});

test('every Lua script names only fields the ledger defines', () => {
  for (const name of Object.keys(scriptSpecs) as (keyof typeof scriptSpecs)[]) {
    const source = scriptSource(name);
    const prelude = source.slice(0, source.indexOf('\n'));
    for (const [, field] of source.matchAll(/F\.([A-Za-z]+)/g)) {
      assert.match(
        prelude,
        new RegExp(`\\b${field} = '`),
        `${name}.lua uses F.${field}, which fields.ts lacks`,
      );
    }
  }
});

test('a step applies once: replayed (a command sent twice) it counts nothing more; a stale one is refused', async () => {
  const { ledger, queues } = fresh();
  await accept(ledger, queues, 'n1', 300);
  const start = await ledger.batches.begin(ref('n1'), 'r1');
  assert.equal(start.state.kind, 'progress');
  const first = await ledger.batches.record(ref('n1'), step(start.version, 100, 100));
  assert.equal(first.kind, 'applied');
  const replay = await ledger.batches.record(ref('n1'), step(start.version, 100, 100));
  assert.equal(replay.kind, 'applied', 'its own write, recognised');
  assert.equal((await ledger.records.notification('shop', 'n1'))?.delivered, 100, 'counted once');
  // Another run claims the batch: the first run's next step no longer applies.
  await ledger.batches.begin(ref('n1'), 'r2');
  const stale = await ledger.batches.record(
    ref('n1'),
    step(first.kind === 'applied' ? first.version : '', 100, 200),
  );
  assert.equal(stale.kind, 'moved-on');
  assert.equal((await ledger.records.notification('shop', 'n1'))?.delivered, 100);
  await queues.close();
});

test('a step for a record that does not exist writes nothing (no orphan counters)', async () => {
  const { prefix, ledger } = fresh();
  const result = await ledger.batches.record(ref('ghost'), step('', 5, 'done'));
  assert.equal(result.kind, 'no-record');
  assert.deepEqual(await redis.keys(`${prefix}:*`), []);
});

test('records live their retention past their last step, and at least until sendAt + retention', async () => {
  const { prefix, ledger, queues } = fresh();
  const delayMs = 25 * 24 * 3600_000; // a notification scheduled 25 days ahead
  await accept(ledger, queues, 'later', 10, delayMs);
  const key = ledgerKeys.record(appSpace(prefix, 'shop'), 'later');
  assert.ok((await redis.ttl(key)) > ledgerRetentionSeconds + delayMs / 1000 - 60);
  await accept(ledger, queues, 'now', 10);
  await redis.expire(ledgerKeys.record(appSpace(prefix, 'shop'), 'now'), 60);
  const start = await ledger.batches.begin(ref('now'), 'r1');
  await ledger.batches.record(ref('now'), step(start.version, 10, 'done'));
  assert.ok(
    (await redis.ttl(ledgerKeys.record(appSpace(prefix, 'shop'), 'now'))) > ledgerRetentionSeconds - 60,
  );
  await queues.close();
});

test('settling a batch ends only what it had not settled, and only while no run claimed it since', async () => {
  const { ledger, queues } = fresh();
  await accept(ledger, queues, 's1', 3);
  const start = await ledger.batches.begin(ref('s1'), 'r1');
  await ledger.batches.record(ref('s1'), {
    after: start.version,
    outcomes: { delivered: 1, ended: [], invalidated: [] },
    state: { next: 2, retry: ['bb'], retryReason: 'ServiceUnavailable', run: 'r1' },
    now: Date.now(),
  });
  assert.equal(await ledger.batches.settle(ref('s1'), ['aa', 'bb', 'cc'], 'failed', 'WorkerLost'), 2);
  const s = await ledger.records.notification('shop', 's1');
  assert.deepEqual([s?.delivered, s?.failed, s?.state, s?.reasons], [1, 2, 'done', { WorkerLost: 2 }]);
  assert.equal(
    await ledger.batches.settle(ref('s1'), ['aa', 'bb', 'cc'], 'failed', 'WorkerLost'),
    0,
    'idempotent',
  );
  await queues.close();
});

test('a cancelled fan-out keeps its unexpanded audience as the report tail', async () => {
  const { prefix, ledger, queues } = fresh();
  const t = await queues.transaction('shop');
  ledger.records.stageCampaign(t.tx, {
    app: 'shop',
    id: 'c1',
    environment: 'production',
    audience: 'upload',
    total: 5,
    now: Date.now(),
    delayMs: 0,
  });
  await t.exec();
  await ledger.fanout.appendAudience('shop', 'c1', ['a1', 'a2', 'a3', 'a4', 'a5']);
  const page = await queues.transaction('shop');
  ledger.fanout.stageProgress(page.tx, 'shop', 'c1', 2, Date.now());
  await page.exec();
  await ledger.records.cancel('shop', 'c1', Date.now());
  assert.equal(await ledger.fanout.finish('shop', 'c1', 5, Date.now()), true);
  assert.equal(await ledger.fanout.finish('shop', 'c1', 5, Date.now()), false, 'once');
  const space = appSpace(prefix, 'shop');
  assert.deepEqual(await redis.lrange(ledgerKeys.reportTail(space, 'c1'), 0, -1), ['a3', 'a4', 'a5']);
  assert.equal(await redis.exists(ledgerKeys.audience(space, 'c1')), 0);
  const c = await ledger.records.campaign('shop', 'c1');
  assert.deepEqual([c?.accepted, c?.queued, c?.cancelled, c?.state], [5, 2, 3, 'cancelling']);
  await queues.close();
});

test('an Idempotency-Key: claimed under a fresh id, answered in the accepting transaction, never freed after that', async () => {
  const { prefix, ledger, queues } = fresh();
  const store = new IdempotencyStore(redis, prefix, { ttlSeconds: 60, leaseMs: 1000 });
  const key = { app: 'shop', scope: 'k:/route', key: 'abc' };
  const first = await store.begin(key, 'fp', 1000);
  const again = await store.begin(key, 'fp', 1500);
  assert.equal(first.kind, 'new');
  assert.equal(again.kind, 'in-progress');
  assert.equal((await store.begin(key, 'other', 1500)).kind, 'mismatch');
  const retaken = await store.begin(key, 'fp', 2500);
  assert.equal(retaken.kind, 'new', 'a claim past its lease is taken again');
  assert.ok(first.kind === 'new' && retaken.kind === 'new' && retaken.id !== first.id, 'under a new id');
  const t = await queues.transaction('shop');
  store.stageAnswer(t.tx, key, 'fp', { status: 202, body: { id: 'x' } });
  await t.exec();
  await store.abandon(key, retaken.kind === 'new' ? retaken.id : '');
  assert.deepEqual(await store.begin(key, 'fp', 3000), { kind: 'replay', status: 202, body: { id: 'x' } });
  void ledger;
  await queues.close();
});

test('pauses: per app × environment, joined not extended, dropped once over', async () => {
  const { prefix } = fresh();
  const pauses = new PauseStore(redis, prefix);
  const resumeAt = await pauses.pause('shop', 'sandbox', 'InvalidProviderToken', 1000, 5000);
  assert.equal(resumeAt, 6000);
  assert.equal(await pauses.pause('shop', 'sandbox', 'InvalidProviderToken', 2000, 5000), 6000, 'joined');
  await pauses.pause('shop', 'production', 'BadCertificate', 4000, 5000);
  assert.deepEqual(await pauses.expire(7000), ['shop/sandbox']);
  assert.deepEqual(
    (await pauses.all()).map((p) => `${p.app}/${p.environment}/${p.reason}`),
    ['shop/production/BadCertificate'],
  );
});
