import { campaignsQueueName, deliverQueueName } from '@pushfleet/queue';
import {
  campaignKeys,
  compareStreamIds,
  feedbackKeys,
  notificationTtlSeconds,
  storeKeys,
} from '@pushfleet/store';
import { Queue } from 'bullmq';
import type { SchedulerContext } from './context.ts';
import { schedulerQueueName } from './scheduled-jobs.ts';
import { webhooksQueueName } from './webhook-queue.ts';

const keepCompletedMs = 3600_000;
const keepFailedMs = 7 * 24 * 3600_000;
/** Jobs removed per queue, state and run: bounded work; the next run continues. */
const cleanLimit = 10_000;

const minId = (ids: (string | null)[]) =>
  ids.filter((id): id is string => id !== null).sort(compareStreamIds)[0] ?? null;

/** Finished jobs of every queue the fleet uses, by age, so Redis memory tracks the backlog, not history. */
async function cleanQueues(ctx: SchedulerContext, queueNames: string[]): Promise<number> {
  let removed = 0;
  for (const name of queueNames) {
    const queue = new Queue(name, { connection: ctx.redis, prefix: ctx.prefix });
    try {
      removed += (await queue.clean(keepCompletedMs, cleanLimit, 'completed')).length;
      removed += (await queue.clean(keepFailedMs, cleanLimit, 'failed')).length;
    } finally {
      await queue.close();
    }
  }
  return removed;
}

/**
 * Campaign hashes expire by TTL; their entries in the app's campaign index do not. Index entries
 * older than the TTL whose hash is gone are dropped (a campaign scheduled far ahead keeps both).
 */
async function pruneCampaignIndex(ctx: SchedulerContext, app: string): Promise<number> {
  const index = campaignKeys.index(ctx.prefix, app);
  const ids = await ctx.redis.zrangebyscore(
    index,
    '-inf',
    ctx.now() - notificationTtlSeconds * 1000,
    'LIMIT',
    0,
    cleanLimit,
  );
  if (ids.length === 0) return 0;
  const exists = await Promise.all(ids.map((id) => ctx.redis.exists(storeKeys.notification(ctx.prefix, id))));
  const gone = ids.filter((_, i) => exists[i] === 0);
  return gone.length > 0 ? ctx.redis.zrem(index, ...gone) : 0;
}

/**
 * Trims the feedback stream and the per-app feeds by age — never past an event the purge has
 * not applied, nor past a feed entry a webhook has not delivered.
 */
async function trimFeedback(
  ctx: SchedulerContext,
  apps: string[],
): Promise<{ stream: number; feed: number }> {
  const cutoff = `${ctx.now() - ctx.config.scheduler.feedbackRetentionSeconds * 1000}-0`;
  const streamMin = minId([cutoff, await ctx.processor.oldestUnprocessedId()])!;
  const stream = (await ctx.redis.xtrim(storeKeys.feedbackStream(ctx.prefix), 'MINID', streamMin)) as number;
  let feed = 0;
  for (const app of apps) {
    let min: string | null = cutoff;
    if (ctx.webhooks.has(app)) min = minId([cutoff, (await ctx.feed.cursor(app)) ?? '0-0']);
    feed += (await ctx.redis.xtrim(feedbackKeys.feed(ctx.prefix, app), 'MINID', min!)) as number;
  }
  return { stream, feed };
}

/** The `housekeeping` job. */
export async function runHousekeeping(ctx: SchedulerContext): Promise<number> {
  const apps = Object.keys(ctx.config.apps);
  const jobs = await cleanQueues(ctx, [
    ...apps.map(deliverQueueName),
    campaignsQueueName,
    webhooksQueueName,
    schedulerQueueName,
  ]);
  let campaignIndex = 0;
  for (const app of apps) campaignIndex += await pruneCampaignIndex(ctx, app);
  const trimmed = await trimFeedback(ctx, apps);
  const counts = {
    jobs,
    'campaign-index': campaignIndex,
    'feedback-stream': trimmed.stream,
    feed: trimmed.feed,
  };
  for (const [kind, n] of Object.entries(counts)) ctx.metrics.housekeepingRemoved.inc({ kind }, n);
  ctx.log.info(counts, 'housekeeping done');
  return jobs + campaignIndex + trimmed.stream + trimmed.feed;
}
