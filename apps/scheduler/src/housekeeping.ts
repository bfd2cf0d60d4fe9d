import type { DeliverJobData, FanoutJobData } from '@pushfleet/core';
import {
  appQueueNames,
  appQueuePrefix,
  appQueueRefs,
  fleetQueueRef,
  pendingWork,
  type QueueRef,
  settleFailedJob,
} from '@pushfleet/queue';
import {
  ActivityStore,
  compareStreamIds,
  feedbackKeys,
  type Ledger,
  ledgerRetentionSeconds,
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
async function cleanQueues(ctx: SchedulerContext, refs: QueueRef[]): Promise<number> {
  let removed = 0;
  for (const ref of refs) {
    const queue = new Queue(ref.name, { connection: ctx.redis, prefix: ref.prefix });
    queue.on('error', (err) => ctx.log.warn({ err, queue: ref.label }, 'queue error'));
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
 * Every app's queues, once per run:
 * - jobs BullMQ failed for good whose tokens are not settled yet: the worker that saw them fail
 *   settles them at once, but it may have died first. Settling is idempotent, so every failed job
 *   still kept is simply settled again (cheap: a finished batch is one read);
 * - an app whose queue holds work is marked active again: producers mark it when they add jobs,
 *   and a mark that could not be written (Redis failing right after the commit) is restored here,
 *   so workers attach to it.
 */
async function sweepAppQueues(
  ctx: SchedulerContext,
  ledger: Ledger,
  apps: string[],
): Promise<{ settled: number; marked: number }> {
  let settled = 0;
  let marked = 0;
  const activity = new ActivityStore(ctx.redis, ctx.prefix);
  for (const app of apps) {
    const queues = appQueueNames.map((name) => {
      const queue = new Queue<DeliverJobData | FanoutJobData>(name, {
        connection: ctx.redis,
        prefix: appQueuePrefix(ctx.prefix, app),
      });
      queue.on('error', (err) => ctx.log.warn({ err, app, queue: name }, 'queue error'));
      return queue;
    });
    try {
      for (const queue of queues)
        for (const job of await queue.getFailed(0, cleanLimit - 1))
          settled += await settleFailedJob(ledger, job);
      const work = await pendingWork(queues);
      if (work.ready + work.active > 0) {
        await activity.mark(app, ctx.now(), ctx.now());
        marked++;
      } else if (work.soonestDueAt !== undefined) {
        await activity.mark(app, work.soonestDueAt, ctx.now());
        marked++;
      }
    } finally {
      await Promise.all(queues.map((q) => q.close()));
    }
  }
  return { settled, marked };
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
  const webhooks = ctx.webhooks();
  let stream = 0;
  let feed = 0;
  for (const app of apps) {
    const streamMin = minId([cutoff, await ctx.processor.oldestUnprocessedId(app)])!;
    stream += (await ctx.redis.xtrim(
      storeKeys.feedbackStream(ctx.prefix, app),
      'MINID',
      streamMin,
    )) as number;
    let min: string | null = cutoff;
    if (webhooks.has(app)) min = minId([cutoff, (await ctx.feed.cursor(app)) ?? '0-0']);
    feed += (await ctx.redis.xtrim(feedbackKeys.feed(ctx.prefix, app), 'MINID', min!)) as number;
  }
  return { stream, feed };
}

/** The `housekeeping` job. */
export async function runHousekeeping(ctx: SchedulerContext): Promise<number> {
  const apps = ctx.directory.ids();
  // Settle before cleaning: a failed job removed unsettled would leave its tokens without an outcome.
  const { settled } = await sweepAppQueues(ctx, ctx.ledger, apps);
  const jobs = await cleanQueues(ctx, [
    ...apps.flatMap((app) => appQueueRefs(ctx.prefix, app)),
    fleetQueueRef(ctx.prefix, webhooksQueueName),
    fleetQueueRef(ctx.prefix, schedulerQueueName),
  ]);
  let campaignIndex = 0;
  const expiredBefore = ctx.now() - ledgerRetentionSeconds * 1000;
  for (const app of apps)
    campaignIndex += await ctx.ledger.records.pruneCampaignIndex(app, expiredBefore, cleanLimit);
  const trimmed = await trimFeedback(ctx, apps);
  const counts = {
    jobs,
    'settled-tokens': settled,
    'campaign-index': campaignIndex,
    'feedback-stream': trimmed.stream,
    feed: trimmed.feed,
  };
  for (const [kind, n] of Object.entries(counts)) ctx.metrics.housekeepingRemoved.inc({ kind }, n);
  ctx.log.info(counts, 'housekeeping done');
  return jobs + settled + campaignIndex + trimmed.stream + trimmed.feed;
}
