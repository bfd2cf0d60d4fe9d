import {
  type DeliverJobData,
  deliverBatchSize,
  deliverJobId,
  type FanoutJobData,
  fanoutJobId,
  jobNames,
  localReasons,
} from '@pushfleet/core';
import type { Ledger } from '@pushfleet/store';
import type { Job, Queue } from 'bullmq';

/** BullMQ's message for a job that stalled more often than `maxStalledCount`. */
const stalledOut = /stalled more than allowable limit/i;

/**
 * Ends what a job will never do: what its batch had not settled, or its fan-out's unexpanded
 * audience, ends with `outcome` and `reason`. Idempotent (a finished batch or fan-out is left
 * alone). Returns the tokens it settled.
 */
export async function settleJob(
  ledger: Ledger,
  job: Job<DeliverJobData | FanoutJobData>,
  outcome: 'failed' | 'cancelled',
  reason: string,
  now = Date.now(),
): Promise<number> {
  if (job.name === jobNames.fanout) {
    const { app, notificationId: id } = job.data as FanoutJobData;
    const state = await ledger.fanout.state(app, id);
    if (!state.exists || state.done) return 0;
    const total = state.phase === 'fanout' ? await ledger.fanout.audienceLength(app, id) : 0;
    await ledger.fanout.finish(app, id, total, now, { outcome, reason });
    return Math.max(0, total - state.queued);
  }
  const data = job.data as DeliverJobData;
  const ref = {
    app: data.app,
    environment: data.environment,
    notificationId: data.notificationId,
    batchNo: data.batchNo,
    attempt: data.attempt,
  };
  return ledger.batches.settle(ref, data.tokens, outcome, reason, now);
}

/**
 * A job BullMQ failed for good (attempts spent, or stalled too often) must not leave tokens
 * without an outcome: they end `failed` (`WorkerLost`, `JobFailed`, or `FanoutFailed` for a
 * fan-out's unexpanded audience). The worker's `failed` listener and the scheduler's sweep may
 * both call it.
 */
export function settleFailedJob(ledger: Ledger, job: Job<DeliverJobData | FanoutJobData>, now = Date.now()) {
  const reason =
    job.name === jobNames.fanout
      ? localReasons.fanoutFailed
      : stalledOut.test(job.failedReason ?? '')
        ? localReasons.workerLost
        : localReasons.jobFailed;
  return settleJob(ledger, job, 'failed', reason, now);
}

/**
 * After a cancel (and again on a repeated cancel): what will not be sent ends `cancelled` now,
 * instead of when its job would have run (a sendAt days ahead, a paced fan-out).
 * - A waiting fan-out job is removed, then its unexpanded audience settled; a fan-out job gone
 *   while the fan-out is unfinished (a cancel that stopped in between) is settled too: no worker
 *   can run it any more. One a worker runs sees the cancel at its next page.
 * - A notification's waiting batches are settled first (a compare-and-set on the batch's state,
 *   which fails if a worker claimed the batch meanwhile), then removed: a batch is never counted
 *   cancelled while a worker sends it, and a cancel stopped in between leaves a job that ends at
 *   once when it runs. Campaign batches see the cancel when they run.
 * Idempotent; returns the tokens settled.
 */
export async function settleCancelled(
  ledger: Ledger,
  queues: Queue<DeliverJobData | FanoutJobData>[],
  app: string,
  id: string,
  now = Date.now(),
): Promise<number> {
  // A job is in one of the app's queues (a batch of one token in `express`): look in each.
  const getJob = async (jobId: string) => {
    for (const queue of queues) {
      const job = await queue.getJob(jobId);
      if (job) return job;
    }
    return undefined;
  };
  const record = await ledger.fanout.state(app, id);
  if (!record.exists) return 0;
  let settled = 0;
  if (record.hasFanout) {
    const job = await getJob(fanoutJobId(id));
    if (job ? await removeIfWaiting(job) : !record.done) {
      const total = record.phase === 'fanout' ? await ledger.fanout.audienceLength(app, id) : 0;
      if (await ledger.fanout.finish(app, id, total, now)) settled += Math.max(0, total - record.queued);
    }
  }
  if (record.kind !== 'notification') return settled;
  const batches = Math.ceil((record.hasFanout ? record.queued : record.accepted) / deliverBatchSize);
  for (let n = 0; n < batches; n++) {
    const job = await getJob(deliverJobId(id, n, 0));
    if (!job || !waitingStates.has(await job.getState())) continue;
    settled += await settleJob(ledger, job, 'cancelled', localReasons.cancelled, now);
    await job.remove().catch(() => undefined);
  }
  return settled;
}

const waitingStates = new Set(['delayed', 'waiting', 'prioritized']);

async function removeIfWaiting(job: Job): Promise<boolean> {
  if (!waitingStates.has(await job.getState())) return false;
  // remove() refuses a job a worker has just locked: that worker sees the cancel itself.
  return job.remove().then(
    () => true,
    () => false,
  );
}
