import {
  type CampaignJobData,
  type DeliverProducer,
  deliverBatchJob,
  deliverBatchSize,
  type FanoutCursor,
} from '@pushfleet/queue';
import type { CampaignStore, DeviceRegistry, NotificationStatusStore } from '@pushfleet/store';
import type { Logger } from '@pushfleet/telemetry';
import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

export interface FanoutContext {
  redis: Redis;
  campaigns: CampaignStore;
  registry: DeviceRegistry;
  status: NotificationStatusStore;
  deliver: DeliverProducer;
  log: Logger;
  /** Tokens read and turned into batches per step; a multiple of the deliver batch size. */
  pageSize: number;
  /** Backpressure: while an app's deliver queue holds more waiting batches, the fan-out pauses. */
  maxQueuedBatches: number;
  /** With a rate, batches are added at most this far ahead of their send time. */
  rateHorizonMs: number;
  /** True once the worker is closing: the job parks itself and another worker resumes it. */
  closing: () => boolean;
}

/** Registry audiences are scanned into the campaign list in pages of this many members. */
const scanCount = 5000;

/**
 * Parks the job (moves it to delayed, without spending an attempt) and leaves the processor: the
 * saved cursor lets any worker resume it. Used for backpressure, rate pacing and shutdown.
 */
async function park(job: Job<CampaignJobData>, token: string | undefined, untilMs: number): Promise<never> {
  await job.moveToDelayed(untilMs, token);
  throw new DelayedError();
}

async function saveCursor(job: Job<CampaignJobData>, cursor: FanoutCursor): Promise<void> {
  await job.updateData({ ...job.data, cursor });
}

/**
 * Copies a registry audience (all devices, tags, users) into the campaign's token list, dropping
 * duplicates. It starts over after a crash: no batch exists yet, so restarting is exact.
 */
async function materialise(job: Job<CampaignJobData>, ctx: FanoutContext): Promise<number> {
  const { campaignId: id, app, environment, audience } = job.data;
  if (audience.kind === 'list') return ctx.campaigns.audienceLength(id);
  await ctx.campaigns.resetAudience(id);
  for (const key of ctx.registry.audienceKeys(app, environment, audience)) {
    let scan = '0';
    do {
      const [next, members] = await ctx.redis.sscan(key, scan, 'COUNT', scanCount);
      await ctx.campaigns.appendUniqueTokens(id, members);
      scan = next;
    } while (scan !== '0');
  }
  const total = await ctx.campaigns.audienceLength(id);
  await ctx.campaigns.setTotal(id, total);
  return total;
}

/**
 * Expands one campaign into deliver batches: pages through its token list, adds batches with
 * deterministic ids (`<campaignId>-<batchNo>`, so a replayed page adds nothing twice), raises
 * `accepted`/`queued` and saves the cursor after every page. Stops early on cancel; the tokens
 * never expanded are counted as cancelled when the fan-out finishes.
 */
export async function processFanoutJob(
  job: Job<CampaignJobData>,
  token: string | undefined,
  ctx: FanoutContext,
): Promise<{ total: number; queued: number }> {
  const data = job.data;
  const id = data.campaignId;
  const log = ctx.log.child({ jobId: job.id, app: data.app, campaignId: id });
  const cursor: FanoutCursor = { ...data.cursor };

  if (cursor.phase === 'materialise') {
    if (await ctx.status.isCancelled(id)) {
      await ctx.campaigns.finishFanout(id, 0);
      return { total: 0, queued: 0 };
    }
    const total = await materialise(job, ctx);
    cursor.phase = 'fanout';
    cursor.offset = 0;
    await saveCursor(job, cursor);
    log.info({ total }, 'campaign audience materialised');
  }

  const total = await ctx.campaigns.audienceLength(id);
  const queue = ctx.deliver.queueFor(data.app);
  const rate = data.ratePerSecond;
  if (rate !== undefined && cursor.rateStartedAt === undefined) {
    cursor.rateStartedAt = Date.now();
    await saveCursor(job, cursor);
  }
  await ctx.campaigns.recordProgress(id, cursor.offset);

  while (cursor.offset < total) {
    if (await ctx.status.isCancelled(id)) {
      log.info({ queued: cursor.offset, total }, 'campaign cancelled during fan-out');
      break;
    }
    if (ctx.closing()) await park(job, token, Date.now());
    const dueAt = rate === undefined ? 0 : cursor.rateStartedAt! + (cursor.offset / rate) * 1000;
    if (dueAt - Date.now() > ctx.rateHorizonMs) await park(job, token, dueAt - ctx.rateHorizonMs);
    const counts = await queue.getJobCounts('wait', 'prioritized');
    if ((counts.wait ?? 0) + (counts.prioritized ?? 0) > ctx.maxQueuedBatches) {
      await park(job, token, Date.now() + 1000);
    }

    const tokens = await ctx.campaigns.readTokens(id, cursor.offset, ctx.pageSize);
    if (tokens.length === 0) break; // the list went away (expired): nothing more to expand
    const now = Date.now();
    const base = {
      app: data.app,
      environment: data.environment,
      notificationId: id,
      prepared: data.prepared,
    };
    const jobs = [];
    for (let i = 0; i < tokens.length; i += deliverBatchSize) {
      const position = cursor.offset + i;
      const delayMs = rate === undefined ? 0 : cursor.rateStartedAt! + (position / rate) * 1000 - now;
      jobs.push(
        deliverBatchJob(base, position / deliverBatchSize, tokens.slice(i, i + deliverBatchSize), {
          delayMs,
          priority: data.priority,
        }),
      );
    }
    await queue.addBulk(jobs);
    cursor.offset += tokens.length;
    // accepted/queued are raised to the offset (an absolute value: a replayed page cannot count twice).
    await ctx.campaigns.recordProgress(id, cursor.offset);
    await saveCursor(job, cursor);
  }

  await ctx.campaigns.finishFanout(id, total);
  log.info({ total, queued: cursor.offset }, 'campaign fan-out finished');
  return { total, queued: cursor.offset };
}
