import {
  type CampaignJobData,
  campaignsQueueName,
  DeliverProducer,
  deliverBatchSize,
} from '@pushfleet/queue';
import { CampaignStore, DeviceRegistry, NotificationStatusStore } from '@pushfleet/store';
import type { Logger } from '@pushfleet/telemetry';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type FanoutContext, processFanoutJob } from './fanout-job.ts';

export interface FanoutWorkerDeps {
  /** A worker-role connection (`createRedis(url, 'worker')`); the BullMQ Worker gets a duplicate. */
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Campaigns expanded at once by this process (default 2). */
  concurrency?: number;
  /** Tokens per fan-out step (default 10,000 = 20 batches); rounded to the deliver batch size. */
  pageSize?: number;
  /** Pause expanding while an app's deliver queue holds more waiting batches (default 2000 ≈ 1M tokens). */
  maxQueuedBatches?: number;
  /** With a campaign rate, add batches at most this far ahead of their send time (default 30 s). */
  rateHorizonMs?: number;
}

export interface FanoutWorker {
  worker: Worker<CampaignJobData>;
  close(): Promise<void>;
}

/**
 * Starts the campaign fan-out processor on the shared `campaigns` queue. Safe with any number of
 * replicas: a campaign is one job, resumable from the cursor saved in its data.
 */
export function startFanoutWorker(deps: FanoutWorkerDeps): FanoutWorker {
  let closing = false;
  const deliver = new DeliverProducer(deps.redis, deps.prefix);
  const pageSize = Math.max(
    deliverBatchSize,
    Math.round((deps.pageSize ?? 10_000) / deliverBatchSize) * deliverBatchSize,
  );
  const ctx: FanoutContext = {
    redis: deps.redis,
    campaigns: new CampaignStore(deps.redis, deps.prefix),
    registry: new DeviceRegistry(deps.redis, deps.prefix),
    status: new NotificationStatusStore(deps.redis, deps.prefix),
    deliver,
    log: deps.log.child({ unit: 'fanout' }),
    pageSize,
    maxQueuedBatches: deps.maxQueuedBatches ?? 2000,
    rateHorizonMs: deps.rateHorizonMs ?? 30_000,
    closing: () => closing,
  };
  const connection = deps.redis.duplicate();
  const worker = new Worker<CampaignJobData>(
    campaignsQueueName,
    (job, token) => processFanoutJob(job, token, ctx),
    { connection, prefix: deps.prefix, concurrency: deps.concurrency ?? 2 },
  );
  worker.on('failed', (job, err) =>
    ctx.log.error({ err, jobId: job?.id, campaignId: job?.data.campaignId }, 'fan-out attempt failed'),
  );
  worker.on('error', (err) => ctx.log.error({ err }, 'fan-out worker error'));

  let closed: Promise<void> | undefined;
  return {
    worker,
    close() {
      closed ??= (async () => {
        closing = true;
        await Promise.allSettled([worker.close()]);
        await Promise.allSettled([deliver.close()]);
        connection.disconnect();
      })();
      return closed;
    },
  };
}
