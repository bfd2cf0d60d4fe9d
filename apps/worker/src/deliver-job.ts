import { setTimeout as sleep } from 'node:timers/promises';
import type { PushTransport, SendResult } from '@pushfleet/apns';
import {
  type BackoffPolicy,
  type DeliverJobData,
  hasExpired,
  retryDelayMs,
  shortenToken,
} from '@pushfleet/core';
import { type DeliverProducer, deliverJobId, deliverJobOptions } from '@pushfleet/queue';
import {
  type BatchCheckpoint,
  emptyOutcomeCounts,
  type FleetRateLimiter,
  type OutcomeCounts,
  type OutcomeRecorder,
} from '@pushfleet/store';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import { DelayedError, type Job } from 'bullmq';
import type { AppPauseController } from './app-pause.ts';
import { classifyResults } from './classify.ts';

export interface DeliverDeps {
  transportFor(app: string, environment: DeliverJobData['environment']): PushTransport;
  recorder: OutcomeRecorder;
  producer: DeliverProducer;
  pauses: AppPauseController;
  limiter: FleetRateLimiter;
  rateLimitFor(app: string): number | undefined;
  metrics: DeliveryMetrics;
  log: Logger;
  maxAttempts: number;
  checkpointEvery: number;
  backoff: BackoffPolicy;
}

type Labels = { app: string; environment: string };

function countMetrics(metrics: DeliveryMetrics, labels: Labels, c: OutcomeCounts): void {
  if (c.delivered > 0)
    metrics.notifications.inc({ ...labels, outcome: 'delivered', reason: '' }, c.delivered);
  if (c.expired > 0) metrics.notifications.inc({ ...labels, outcome: 'expired', reason: '' }, c.expired);
  if (c.cancelled > 0)
    metrics.notifications.inc({ ...labels, outcome: 'cancelled', reason: '' }, c.cancelled);
  for (const [outcome, byReason] of [
    ['rejected', c.rejected],
    ['failed', c.failed],
  ] as const) {
    for (const [reason, n] of Object.entries(byReason))
      metrics.notifications.inc({ ...labels, outcome, reason }, n);
  }
}

function countResponses(metrics: DeliveryMetrics, labels: Labels, results: SendResult[]): void {
  let accepted = 0;
  for (const r of results) {
    if (r.kind === 'accepted') accepted++;
    else if (r.kind === 'failed')
      metrics.apnsResponses.inc({ ...labels, status: 'none', reason: 'ConnectionError' });
    else metrics.apnsResponses.inc({ ...labels, status: String(r.status), reason: r.reason });
  }
  if (accepted > 0) metrics.apnsResponses.inc({ ...labels, status: '200', reason: '' }, accepted);
}

/**
 * Sends one deliver job: one prepared notification to a batch of tokens, in slices of
 * `checkpointEvery`. After each slice its outcomes, its feedback events and the batch checkpoint
 * are recorded in one atomic step, so a job re-run after a crash resumes after the last
 * recorded slice: at most one slice is sent twice, and nothing is counted twice.
 */
export async function processDeliverJob(
  job: Job<DeliverJobData>,
  token: string | undefined,
  deps: DeliverDeps,
) {
  const data = job.data;
  const jobId = job.id!;
  const labels = { app: data.app, environment: data.environment };
  const log = deps.log.child({ jobId, app: data.app, notificationId: data.notificationId });
  const started = performance.now();
  if (job.attemptsMade === 0) {
    deps.metrics.queueWait.observe(
      { app: data.app },
      Math.max(0, Date.now() - job.timestamp - (job.delay ?? 0)) / 1000,
    );
  }
  const record = (applyId: string, counts: OutcomeCounts, checkpoint?: BatchCheckpoint) =>
    deps.recorder.record({
      notificationId: data.notificationId,
      applyId: `${jobId}:${applyId}`,
      ...labels,
      counts,
      ...(checkpoint && { checkpoint: { jobId, value: checkpoint } }),
    });

  // Only a job that started before (crash, stall, pause) can have a checkpoint: skip the read
  // on the first start, which is nearly every job.
  const saved = job.attemptsStarted > 1 ? await deps.recorder.readCheckpoint(jobId) : undefined;
  const cp: BatchCheckpoint = saved ?? { next: 0, retry: [], retryReason: '', retryAfter: undefined };
  let checkpointed = saved !== undefined;

  const pausedUntil = deps.pauses.pausedUntil(data.app);
  if (pausedUntil !== undefined) return postpone(job, token, pausedUntil);

  // A cancelled or expired notification ends here: whatever is left is counted, not sent.
  const endEarly = async (outcome: 'cancelled' | 'expired') => {
    const counts = emptyOutcomeCounts();
    counts[outcome] = data.tokens.length - cp.next + cp.retry.length;
    await record(outcome, counts);
    countMetrics(deps.metrics, labels, counts);
    if (checkpointed) await deps.recorder.clearCheckpoint(jobId);
  };
  if (await deps.recorder.isCancelled(data.notificationId)) return endEarly('cancelled');
  if (hasExpired(data.prepared, Date.now())) return endEarly('expired');

  const transport = deps.transportFor(data.app, data.environment);
  const rate = deps.rateLimitFor(data.app);
  while (cp.next < data.tokens.length) {
    const slice = data.tokens.slice(cp.next, cp.next + deps.checkpointEvery);
    if (rate !== undefined) {
      const waitMs = await deps.limiter.reserve(data.app, slice.length, rate);
      if (waitMs > 0) await sleep(waitMs);
    }
    const results = await transport.send(data.prepared, slice);
    countResponses(deps.metrics, labels, results);
    const verdict = classifyResults(slice, results, Date.now());
    const sliceStart = cp.next;
    cp.next += slice.length;
    if (verdict.retry.tokens.length > 0) {
      cp.retry.push(...verdict.retry.tokens);
      cp.retryReason = verdict.retry.lastReason;
      if (verdict.retry.retryAfter !== undefined)
        cp.retryAfter = Math.max(cp.retryAfter ?? 0, verdict.retry.retryAfter);
    }
    // The last slice with nothing to retry needs no checkpoint: the job is about to complete.
    const needsCheckpoint = cp.next < data.tokens.length || cp.retry.length > 0;
    checkpointed ||= needsCheckpoint;
    const { cancelled } = await record(String(sliceStart), verdict.counts, needsCheckpoint ? cp : undefined);
    countMetrics(deps.metrics, labels, verdict.counts);
    for (const t of verdict.counts.invalidated)
      log.info({ token: shortenToken(t.token), reason: t.reason }, 'token invalidated');
    if (cancelled) return endEarly('cancelled');
    if (verdict.credentialsFailure) {
      const resumeAt = await deps.pauses.pause(data.app, verdict.credentialsFailure);
      // Tokens not yet sent wait with the job; the rejected ones wait in the checkpoint's retry list.
      if (cp.next < data.tokens.length) return postpone(job, token, resumeAt);
    }
  }

  if (cp.retry.length > 0) await scheduleRetry(job, cp, deps, log, record);
  if (checkpointed) await deps.recorder.clearCheckpoint(jobId);
  deps.metrics.batchDuration.observe({ app: data.app }, (performance.now() - started) / 1000);
}

async function postpone(job: Job<DeliverJobData>, token: string | undefined, until: number): Promise<never> {
  await job.moveToDelayed(until, token);
  throw new DelayedError();
}

async function scheduleRetry(
  job: Job<DeliverJobData>,
  cp: BatchCheckpoint,
  deps: DeliverDeps,
  log: Logger,
  record: (applyId: string, counts: OutcomeCounts) => Promise<unknown>,
): Promise<void> {
  const data = job.data;
  const labels = { app: data.app, environment: data.environment };
  const attempt = data.attempt + 1;
  if (attempt >= deps.maxAttempts) {
    const counts = emptyOutcomeCounts();
    counts.failed[cp.retryReason] = cp.retry.length;
    await record('final', counts);
    countMetrics(deps.metrics, labels, counts);
    log.warn({ gaveUp: cp.retry.length, reason: cp.retryReason, attempts: attempt }, 'retries exhausted');
    return;
  }
  const delayMs = retryDelayMs(attempt, deps.backoff, cp.retryAfter);
  // A deterministic id: if this job is re-run after a crash, the retry job is not added twice.
  await deps.producer.queueFor(data.app).add(
    'deliver',
    { ...data, tokens: cp.retry, attempt },
    {
      ...deliverJobOptions,
      jobId: deliverJobId(data.notificationId, data.batchNo, attempt),
      delay: delayMs,
      ...(job.opts.priority !== undefined && { priority: job.opts.priority }),
    },
  );
  deps.metrics.retriesScheduled.inc({ ...labels, reason: cp.retryReason }, cp.retry.length);
  log.warn({ retrying: cp.retry.length, attempt, delayMs, reason: cp.retryReason }, 'retry scheduled');
}
