import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { FanoutJobData } from '@pushfleet/core';
import { DirectProducer } from '@pushfleet/queue';
import { DeviceRegistry, Ledger } from '@pushfleet/store';
import { createLogger } from '@pushfleet/telemetry';
import { useRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import type { AppWorkerDeps } from '../../apps/worker/src/app-workers.ts';
import { type FanoutDeps, processFanoutJob } from '../../apps/worker/src/delivery/fanout-job.ts';
import type { JobHandle } from '../../apps/worker/src/delivery/job-handle.ts';

let redis: Redis;
const prefix = `test-${randomUUID()}`;

useRedis((started) => {
  redis = started.redis;
});

function handle(data: FanoutJobData): JobHandle<FanoutJobData> {
  return {
    id: `${data.notificationId}-fanout`,
    data,
    firstStart: true,
    enqueuedAt: Date.now(),
    delayMs: 0,
    priority: 1,
    postpone: async () => {
      throw new Error('unexpected postpone');
    },
  };
}

test('a fan-out that crashes mid-way resumes from the ledger cursor: every batch exactly once, counts exact', async () => {
  const ledger = new Ledger(redis, prefix);
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: () => ({ bundleId: 'com.example.demo', environments: ['production'] }),
    ledger,
  });
  const total = 7_250;
  const tokens = Array.from({ length: total }, (_, i) => i.toString(16).padStart(64, '0'));
  const { campaignId } = await producer.createCampaign('demo', { notification: { alert: 'x' } }, [tokens]);
  const queue = producer.queues.queue('demo');
  const [fanoutJob] = await queue.getJobs(['prioritized', 'wait']);
  assert.equal(fanoutJob?.name, 'fanout');

  let commits = 0;
  const deps = (crashAt: number): FanoutDeps => ({
    ledger: ledger.fanout,
    async commitPage(app, id, jobs, offset) {
      // The crash happens before the 3rd page's transaction is sent: nothing of it exists.
      if (++commits === crashAt) throw new Error('simulated crash');
      const t = await producer.queues.transaction(app);
      for (const job of jobs) t.add(job);
      ledger.fanout.stageProgress(t.tx, app, id, offset, Date.now());
      await t.exec();
    },
    registryPages: () => {
      throw new Error('not a registry audience');
    },
    waitingBatches: async () => 0,
    log: createLogger({ name: 't', level: 'silent' }),
    pageSize: 1000,
    maxQueuedBatches: 1_000_000,
    rateHorizonMs: 30_000,
    closing: () => false,
    now: Date.now,
  });
  const data = fanoutJob!.data as FanoutJobData;
  await assert.rejects(processFanoutJob(handle(data), deps(3)), /simulated crash/);
  assert.equal((await ledger.fanout.state('demo', campaignId)).queued, 2000, 'cursor at page 2, not 3');
  assert.equal((await ledger.records.campaign('demo', campaignId))?.state, 'running');

  assert.equal(await processFanoutJob(handle(data), deps(0)), 'finished');
  const batches = (await queue.getJobs(['prioritized', 'wait'])).filter((j) => j.name === 'deliver');
  assert.equal(batches.length, Math.ceil(total / 500), 'no page added twice, none skipped');
  assert.equal(new Set(batches.map((j) => j.id)).size, batches.length);
  assert.equal(
    batches.reduce((n, j) => n + (j.data as { tokens: string[] }).tokens.length, 0),
    total,
  );
  const s = await ledger.records.campaign('demo', campaignId);
  assert.deepEqual([s?.total, s?.accepted, s?.queued], [total, total, total]);
  // A re-run after completion (e.g. a stalled job) changes nothing.
  assert.equal(await processFanoutJob(handle(data), deps(0)), 'already-done');
  assert.equal(
    (await queue.getJobs(['prioritized', 'wait'])).filter((j) => j.name === 'deliver').length,
    batches.length,
  );
  await producer.close();
});

test('a registry audience over the cap fails the campaign before anything is sent', async () => {
  const ledger = new Ledger(redis, prefix);
  const registry = new DeviceRegistry(redis, prefix);
  for (let i = 0; i < 30; i++) {
    await registry.register('capped', { token: i.toString(16).padStart(64, 'a'), environment: 'production' });
  }
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: () => ({ bundleId: 'com.example.capped', environments: ['production'] }),
    ledger,
    maxCampaignTokens: 20,
  });
  const { campaignId } = await producer.createCampaign('capped', {
    notification: { alert: 'x' },
    audience: { kind: 'all' },
  });
  const [job] = await producer.queues.queue('capped').getJobs(['prioritized', 'wait']);
  const deps: Pick<AppWorkerDeps, 'registry'> = { registry };
  const result = await processFanoutJob(handle(job!.data as FanoutJobData), {
    ledger: ledger.fanout,
    commitPage: async () => assert.fail('nothing may be added'),
    async *registryPages(data, audience) {
      for (const key of deps.registry.audienceKeys(data.app, data.environment, audience)) {
        yield await redis.smembers(key);
      }
    },
    waitingBatches: async () => 0,
    log: createLogger({ name: 't', level: 'silent' }),
    pageSize: 1000,
    maxQueuedBatches: 1000,
    rateHorizonMs: 30_000,
    closing: () => false,
    now: Date.now,
  });
  assert.equal(result, 'failed');
  const s = await ledger.records.campaign('capped', campaignId);
  assert.equal(s?.state, 'failed');
  assert.equal(s?.error, 'PF_ERR_TOO_MANY_TOKENS');
  assert.deepEqual([s?.accepted, s?.delivered, s?.cancelled], [0, 0, 0]);
  await producer.close();
});
