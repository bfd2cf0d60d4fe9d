import { type DeliverJobData, type FanoutJobData, jobNames, localReasons } from '@pushfleet/core';
import type { Ledger } from '@pushfleet/store';
import type { Job } from 'bullmq';

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
 * After a cancel: jobs still waiting (for their sendAt, a pace, or a free worker) are removed and
 * their tokens end `cancelled` at once. A job a worker already runs is left to it (it sees the
 * cancel at its next step). Returns the tokens settled.
 */
export async function cancelWaitingJobs(
  ledger: Ledger,
  jobs: (Job<DeliverJobData | FanoutJobData> | undefined)[],
  now = Date.now(),
): Promise<number> {
  let settled = 0;
  for (const job of jobs) {
    if (!job) continue;
    const state = await job.getState();
    if (state !== 'delayed' && state !== 'waiting' && state !== 'prioritized') continue;
    // remove() refuses a job a worker has just locked: that worker settles it instead.
    const removed = await job.remove().then(
      () => true,
      () => false,
    );
    if (removed) settled += await settleJob(ledger, job, 'cancelled', localReasons.cancelled, now);
  }
  return settled;
}
