import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { configSchema } from '@pushfleet/config';
import type { CampaignJobData } from '@pushfleet/queue';
import { createRedis, DeliverProducer, DirectProducer } from '@pushfleet/queue';
import { CampaignStore, DeviceRegistry, NotificationStatusStore } from '@pushfleet/store';
import { createLogger } from '@pushfleet/telemetry';
import { type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { type FanoutContext, processFanoutJob } from '../../apps/worker/src/fanout/fanout-job.ts';

let server: StartedRedis;
let redis: Redis;
const prefix = `test-${randomUUID()}`;

before(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
  await redis.connect();
});
after(async () => {
  redis.disconnect();
  await server.stop();
});

/** Stands in for a BullMQ job: keeps the data the processor saves, as Redis would across a crash. */
function fakeJob(data: CampaignJobData): Job<CampaignJobData> {
  const job = {
    id: data.campaignId,
    data,
    async updateData(next: CampaignJobData) {
      job.data = structuredClone(next);
    },
    async moveToDelayed() {},
  };
  return job as unknown as Job<CampaignJobData>;
}

test('a fan-out that crashes mid-way resumes from its cursor: every batch exactly once, counts exact', async () => {
  const config = configSchema.parse({
    apps: {
      demo: {
        bundleId: 'com.example.demo',
        credentials: { type: 'token', keyFile: '/dev/null', keyId: 'K', teamId: 'T' },
      },
    },
  });
  const status = new NotificationStatusStore(redis, prefix);
  const campaigns = new CampaignStore(redis, prefix);
  const producer = new DirectProducer({ connection: redis, prefix, apps: config.apps, status, campaigns });
  const total = 7_250;
  const tokens = Array.from({ length: total }, (_, i) => i.toString(16).padStart(64, '0'));
  const { campaignId } = await producer.createCampaign('demo', { notification: { alert: 'x' } }, [tokens]);
  const [queued] = await producer.campaignQueue().getJobs(['wait']);
  assert.ok(queued);

  const deliver = new DeliverProducer(redis, prefix);
  const queue = deliver.queueFor('demo');
  let adds = 0;
  const crashing = {
    queueFor: () => ({
      addBulk: async (jobs: Parameters<typeof queue.addBulk>[0]) => {
        // Crash after the 3rd page's batches are added but before its cursor is saved.
        const added = await queue.addBulk(jobs);
        if (++adds === 3) throw new Error('simulated crash');
        return added;
      },
      getJobCounts: () => queue.getJobCounts('wait', 'prioritized'),
    }),
  } as unknown as DeliverProducer;
  const ctx = (d: DeliverProducer): FanoutContext => ({
    redis,
    campaigns,
    registry: new DeviceRegistry(redis, prefix),
    status,
    deliver: d,
    log: createLogger({ name: 't', level: 'silent' }),
    pageSize: 1000,
    maxQueuedBatches: 1_000_000,
    rateHorizonMs: 30_000,
    closing: () => false,
  });
  const job = fakeJob(structuredClone(queued.data));
  await assert.rejects(processFanoutJob(job, undefined, ctx(crashing)), /simulated crash/);
  assert.equal(job.data.cursor.offset, 2000, 'cursor saved after page 2, not page 3');
  assert.equal((await campaigns.get(campaignId))?.state, 'running');

  const result = await processFanoutJob(job, undefined, ctx(deliver));
  assert.deepEqual(result, { total, queued: total });
  const jobs = await queue.getJobs(['prioritized']);
  assert.equal(jobs.length, Math.ceil(total / 500), 'the replayed page added nothing twice');
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
  assert.equal(
    jobs.reduce((n, j) => n + j.data.tokens.length, 0),
    total,
  );
  const s = await campaigns.get(campaignId);
  assert.deepEqual([s?.total, s?.accepted, s?.queued], [total, total, total]);
  // A re-run after completion (e.g. a stalled job) changes nothing.
  await processFanoutJob(job, undefined, ctx(deliver));
  assert.equal((await queue.getJobs(['prioritized'])).length, jobs.length);
  await producer.close();
  await deliver.close();
});
