import type { PushTransport } from '@pushfleet/apns';
import {
  type BackoffPolicy,
  type DeliverJobData,
  hasExpired,
  retryDelayMs,
  shortenToken,
} from '@pushfleet/core';
import type { DeliverProducer } from '@pushfleet/queue';
import { deliverJobId, deliverJobOptions } from '@pushfleet/queue';
import type { NotificationStatusStore } from '@pushfleet/store';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import type { Job } from 'bullmq';
import { classifyResults } from './classify.ts';

export interface DeliverDeps {
  transportFor(app: string, environment: DeliverJobData['environment']): PushTransport;
  status: NotificationStatusStore;
  producer: DeliverProducer;
  metrics: DeliveryMetrics;
  log: Logger;
  maxAttempts: number;
  backoff: BackoffPolicy;
}

/**
 * Sends one deliver job: one prepared notification to a batch of tokens. Terminal outcomes are
 * applied once per job id (a re-run cannot double-count); retryable tokens go to one new delayed
 * job with a deterministic id (a re-run cannot enqueue it twice).
 */
export async function processDeliverJob(job: Job<DeliverJobData>, deps: DeliverDeps): Promise<void> {
  const data = job.data;
  const labels = { app: data.app, environment: data.environment };
  const log = deps.log.child({ jobId: job.id, app: data.app, notificationId: data.notificationId });
  deps.metrics.queueWait.observe(
    { app: data.app },
    Math.max(0, Date.now() - job.timestamp - (job.delay ?? 0)) / 1000,
  );
  const started = process.hrtime.bigint();

  if (hasExpired(data.prepared, Date.now())) {
    await deps.status.applyOutcomes(data.notificationId, job.id!, labels, {
      delivered: 0,
      expired: data.tokens.length,
      cancelled: 0,
      rejected: {},
      failed: {},
      invalidated: [],
    });
    deps.metrics.notifications.inc({ ...labels, outcome: 'expired', reason: '' }, data.tokens.length);
    return;
  }

  const results = await deps.transportFor(data.app, data.environment).send(data.prepared, data.tokens);
  const verdict = classifyResults(data.tokens, results, Date.now());
  for (const r of results) {
    if (r.kind === 'failed')
      deps.metrics.apnsResponses.inc({ ...labels, status: 'none', reason: 'ConnectionError' });
    else
      deps.metrics.apnsResponses.inc({
        ...labels,
        status: r.kind === 'accepted' ? '200' : String(r.status),
        reason: r.kind === 'accepted' ? '' : r.reason,
      });
  }

  const attempt = data.attempt + 1;
  if (verdict.retry.tokens.length > 0) {
    if (attempt < deps.maxAttempts) {
      const delayMs = retryDelayMs(attempt, deps.backoff, verdict.retry.retryAfter);
      await deps.producer.queueFor(data.app).add(
        'deliver',
        { ...data, tokens: verdict.retry.tokens, attempt },
        {
          ...deliverJobOptions,
          jobId: deliverJobId(data.notificationId, data.batchNo, attempt),
          delay: delayMs,
        },
      );
      deps.metrics.retriesScheduled.inc(
        { ...labels, reason: verdict.retry.lastReason },
        verdict.retry.tokens.length,
      );
      log.warn(
        { retrying: verdict.retry.tokens.length, attempt, delayMs, reason: verdict.retry.lastReason },
        'retry scheduled',
      );
    } else {
      const failed = verdict.counts.failed;
      failed[verdict.retry.lastReason] =
        (failed[verdict.retry.lastReason] ?? 0) + verdict.retry.tokens.length;
      log.warn(
        { gaveUp: verdict.retry.tokens.length, reason: verdict.retry.lastReason },
        'retries exhausted',
      );
    }
  }
  if (verdict.credentialsFailure) {
    log.error({ reason: verdict.credentialsFailure }, 'APNs rejected the app credentials');
  }

  await deps.status.applyOutcomes(data.notificationId, job.id!, labels, verdict.counts);
  const c = verdict.counts;
  if (c.delivered > 0)
    deps.metrics.notifications.inc({ ...labels, outcome: 'delivered', reason: '' }, c.delivered);
  for (const [outcome, byReason] of [
    ['rejected', c.rejected],
    ['failed', c.failed],
  ] as const) {
    for (const [reason, n] of Object.entries(byReason))
      deps.metrics.notifications.inc({ ...labels, outcome, reason }, n);
  }
  for (const t of c.invalidated)
    log.info({ token: shortenToken(t.token), reason: t.reason }, 'token invalidated');
  deps.metrics.batchDuration.observe({ app: data.app }, Number(process.hrtime.bigint() - started) / 1e9);
}
