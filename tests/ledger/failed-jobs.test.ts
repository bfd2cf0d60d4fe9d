import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DeliverJobData, type FanoutJobData, fanoutJobId } from '@pushfleet/core';
import { appQueueName, appQueuePrefix, createRedis, deliverJob, settleFailedJob } from '@pushfleet/queue';
import { type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { startInProcessWorker } from '../../apps/worker/tests/in-process-worker.ts';
import { app, rig, tokenRange } from './harness.ts';

/**
 * Finding 1: a job BullMQ marks failed (attempts spent, or stalled too often) must not drop its
 * unsent tokens: they end `failed` with a reason, and the notification reaches `done`.
 */
let server: StartedRedis;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

test('a job that keeps throwing until its attempts run out: its unsent tokens end failed (JobFailed)', async () => {
  const r = await rig(server.url, () => ({ kind: 'accepted', apnsId: undefined }));
  const conn = createRedis(server.url, 'worker');
  await conn.connect();
  try {
    // A notification whose only batch is added with one attempt, and a transport that throws
    // (a bug, not an APNs answer): the job fails for good on its first run.
    const id = 'throws';
    const t = await r.producer.queues.transaction(app);
    r.ledger.records.stageNotification(t.tx, {
      app,
      id,
      environment: 'production',
      accepted: 3,
      now: Date.now(),
      delayMs: 0,
    });
    const job = deliverJob(
      {
        app,
        environment: 'production',
        notificationId: id,
        prepared: { headers: { 'apns-push-type': 'alert', 'apns-topic': 't' }, payload: '{}' },
      },
      0,
      tokenRange(3),
    );
    t.add({ ...job, opts: { ...job.opts, attempts: 1 } });
    await t.exec();
    const worker = await startInProcessWorker({
      redis: conn,
      prefix: r.prefix,
      apps: [app],
      transport: {
        send: async () => {
          throw new Error('a bug');
        },
        close: async () => undefined,
      },
    });
    try {
      const status = await waitFor('the notification done', async () => {
        const s = await r.ledger.records.notification(app, id);
        return s?.state === 'done' ? s : undefined;
      });
      assert.deepEqual([status.failed, status.reasons], [3, { JobFailed: 3 }]);
    } finally {
      await worker.close();
    }
  } finally {
    conn.disconnect();
    await r.close();
  }
});

test('a job failed by stalling, and a fan-out that kept failing: settled once, by the listener or the sweep', async () => {
  const r = await rig(server.url, () => ({ kind: 'accepted', apnsId: undefined }));
  try {
    const { id } = await r.producer.send(app, { tokens: tokenRange(600), notification: { alert: 'x' } });
    const { campaignId } = await r.producer.createCampaign(app, { notification: { alert: 'y' } }, [
      tokenRange(1200, 5000),
    ]);
    // Take the jobs as a worker would, then fail them the way BullMQ's stalled check does.
    const worker = new Worker<DeliverJobData | FanoutJobData>(appQueueName, null, {
      connection: r.clean,
      prefix: appQueuePrefix(r.prefix, app),
      autorun: false,
    });
    const queue = new Queue<DeliverJobData | FanoutJobData>(appQueueName, {
      connection: r.clean,
      prefix: appQueuePrefix(r.prefix, app),
    });
    try {
      for (let i = 0; i < 3; i++) {
        const job = (await worker.getNextJob('lock'))!;
        const reason =
          job.name === 'fanout' ? 'fan-out kept failing' : 'job stalled more than allowable limit';
        // Failed for good (as after its last attempt, or its last allowed stall).
        await job.moveToFailed(new UnrecoverableError(reason), 'lock', false);
      }
      const failed = await queue.getFailed();
      assert.equal(failed.length, 3);
      for (const job of failed) await settleFailedJob(r.ledger, job);
      for (const job of failed) assert.equal(await settleFailedJob(r.ledger, job), 0, 'settled once');
      const n = await r.ledger.records.notification(app, id);
      assert.deepEqual([n?.state, n?.failed, n?.reasons], ['done', 600, { WorkerLost: 600 }]);
      const c = await r.ledger.records.campaign(app, campaignId);
      assert.deepEqual(
        [c?.state, c?.accepted, c?.failed, c?.failedReasons],
        ['done', 1200, 1200, { FanoutFailed: 1200 }],
      );
      assert.ok(failed.some((j) => j.id === fanoutJobId(campaignId)));
    } finally {
      await worker.close();
      await queue.close();
    }
  } finally {
    await r.close();
  }
});
