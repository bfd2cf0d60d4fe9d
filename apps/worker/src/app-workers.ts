import { randomUUID } from 'node:crypto';
import type { AppConfig, Config } from '@pushfleet/config';
import {
  type BatchRef,
  type DeliverJobData,
  type DeliveryLedger,
  type FanoutJobData,
  jobNames,
  type RetryJob,
} from '@pushfleet/core';
import {
  type AppQueueName,
  type AppQueues,
  appQueueName,
  appQueueNames,
  appQueuePrefix,
  backoffStrategy,
  type DeliverBase,
  deliverJob,
  settleFailedJob,
} from '@pushfleet/queue';
import type { DeviceRegistry, Ledger } from '@pushfleet/store';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type DeliverDeps, processDeliverJob } from './delivery/deliver-job.ts';
import { type FanoutDeps, processFanoutJob } from './delivery/fanout-job.ts';
import { bullJobHandle } from './delivery/job-handle.ts';
import type { PausePort, RateLimitPort } from './delivery/ports.ts';
import { liveActivityPort } from './live-registries.ts';

export interface AppWorkerDeps {
  config: Readonly<Config>;
  redis: Redis;
  ledger: Ledger;
  queues: AppQueues;
  registry: DeviceRegistry;
  transportFor: DeliverDeps['transportFor'];
  /** Settings of an app (rate limit), as the app directory has them now. */
  appConfig(app: string): AppConfig | undefined;
  pauses: PausePort;
  limiter: RateLimitPort;
  metrics: DeliveryMetrics;
  log: Logger;
  closing(): boolean;
  /** Fan-out pacing and paging (tests shorten them). */
  fanoutTuning?: Partial<Pick<FanoutDeps, 'pageSize' | 'maxQueuedBatches' | 'rateHorizonMs'>>;
}

/** The ledger as deliver jobs use it: its batch steps, and the hand-over to a retry job in one transaction. */
export function deliveryLedger(ledger: Ledger, queues: AppQueues): DeliveryLedger {
  return {
    begin: (ref, run) => ledger.batches.begin(ref, run),
    record: (ref, step) => ledger.batches.record(ref, step),
    async handOver(ref: BatchRef, retry: RetryJob) {
      const t = await queues.transaction(ref.app);
      ledger.batches.stageDone(t.tx, ref);
      const { tokens, batchNo, attempt, ...base } = retry.data;
      t.add(
        deliverJob(base as DeliverBase, batchNo, tokens, {
          attempt,
          delayMs: retry.delayMs,
          priority: retry.priority,
        }),
      );
      await t.exec();
    },
  };
}

/** Index sets of a registry audience, paged with SSCAN (a set of millions never loads at once). */
async function* registryPages(
  redis: Redis,
  registry: DeviceRegistry,
  job: FanoutJobData,
  audience: Parameters<DeviceRegistry['audienceKeys']>[2],
): AsyncIterable<string[]> {
  for (const key of registry.audienceKeys(job.app, job.environment, audience)) {
    let cursor = '0';
    do {
      const [next, members] = await redis.sscan(key, cursor, 'COUNT', 5000);
      yield members;
      cursor = next;
    } while (cursor !== '0');
  }
}

export type JobProcessor = (
  job: Job<DeliverJobData | FanoutJobData>,
  lockToken: string | undefined,
) => Promise<unknown>;

/** Runs both kinds of job of an app queue: deliver batches and fan-outs. */
export function jobProcessor(deps: AppWorkerDeps): JobProcessor {
  const w = deps.config.worker;
  const deliver: DeliverDeps = {
    ledger: deliveryLedger(deps.ledger, deps.queues),
    transportFor: deps.transportFor,
    pauses: deps.pauses,
    limiter: deps.limiter,
    rateLimitFor: (app) => deps.appConfig(app)?.rateLimitPerSecond,
    metrics: deps.metrics,
    log: deps.log,
    maxAttempts: w.maxAttempts,
    checkpointEvery: w.checkpointEvery,
    backoff: { baseMs: w.retryBaseMs, maxMs: w.retryMaxMs },
    recheckMs: w.lockDurationMs,
    now: Date.now,
    newRunId: randomUUID,
    live: liveActivityPort(deps.redis, deps.config.redis.prefix),
  };
  const fanout: FanoutDeps = {
    ledger: deps.ledger.fanout,
    async commitPage(app, id, jobs, offset) {
      const t = await deps.queues.transaction(app);
      for (const job of jobs) t.add(job);
      deps.ledger.fanout.stageProgress(t.tx, app, id, offset, Date.now());
      await t.exec();
    },
    registryPages: (job, audience) => registryPages(deps.redis, deps.registry, job, audience),
    async waitingBatches(app) {
      const counts = await deps.queues.queue(app).getJobCounts('wait', 'prioritized');
      return (counts.wait ?? 0) + (counts.prioritized ?? 0);
    },
    log: deps.log.child({ unit: 'fanout' }),
    pageSize: 10_000,
    maxQueuedBatches: 2000,
    rateHorizonMs: 30_000,
    ...deps.fanoutTuning,
    closing: deps.closing,
    now: Date.now,
  };
  return (job, lockToken) =>
    job.name === jobNames.fanout
      ? processFanoutJob(bullJobHandle(job as Job<FanoutJobData>, lockToken), fanout)
      : processDeliverJob(bullJobHandle(job as Job<DeliverJobData>, lockToken), deliver);
}

/**
 * The BullMQ Worker of one of an app's queues (`deliver`: batches and fan-outs; `express`: jobs of one token).
 * A job BullMQ fails for good has its unsettled tokens ended `failed` by the ledger right away
 * (the scheduler's housekeeping sweeps again, in case this process dies first).
 */
export function startAppWorker(
  app: string,
  deps: AppWorkerDeps,
  processor = jobProcessor(deps),
  name: AppQueueName = appQueueName,
): Worker {
  const w = deps.config.worker;
  const worker = new Worker<DeliverJobData | FanoutJobData>(name, processor, {
    connection: deps.redis,
    prefix: appQueuePrefix(deps.config.redis.prefix, app),
    concurrency: w.concurrency,
    lockDuration: w.lockDurationMs,
    // A dead worker's job is taken over within lockDuration + one interval (≈ 1.5 × lock).
    stalledInterval: Math.max(1000, Math.round(w.lockDurationMs / 2)),
    maxStalledCount: w.maxStalledCount,
    settings: { backoffStrategy },
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    deps.log.error({ err, jobId: job.id, app, queue: name }, 'job attempt failed');
    void settleIfFinal(job, deps).catch((e) =>
      deps.log.error({ err: e, jobId: job.id, app }, 'cannot settle a failed job (the scheduler sweep will)'),
    );
  });
  worker.on('error', (err) => deps.log.error({ err, app, queue: name }, 'worker error'));
  return worker;
}

/** A worker for each queue of each of `apps` (tests and tools; the worker process attaches on activity). */
export function startAppWorkers(apps: string[], deps: AppWorkerDeps): Worker[] {
  const processor = jobProcessor(deps);
  return apps.flatMap((app) => appQueueNames.map((name) => startAppWorker(app, deps, processor, name)));
}

async function settleIfFinal(job: Job<DeliverJobData | FanoutJobData>, deps: AppWorkerDeps): Promise<void> {
  // `failed` fires for every failed attempt; only a job that stays failed is settled.
  if (!(await job.isFailed())) return;
  const settled = await settleFailedJob(deps.ledger, job);
  if (settled > 0) deps.log.warn({ jobId: job.id, settled, reason: job.failedReason }, 'failed job settled');
}
