import { backoffStrategy, fleetQueuePrefix } from '@pushfleet/queue';
import { type Job, Worker } from 'bullmq';
import type { SchedulerContext } from './context.ts';
import { postWebhook } from './webhook-post.ts';
import { scheduleWebhook, type WebhookJobData, webhooksQueueName } from './webhook-queue.ts';

/**
 * Delivers one batch of an app's feed (the entries after its cursor) to the app's webhook. The
 * cursor moves only on a 2xx; an error throws, and BullMQ retries with exponential backoff.
 * The last failed attempt writes a dead letter and moves the cursor past the batch in one step,
 * so one bad batch never blocks the feed. Delivery is at least once: receivers dedupe by item id.
 */
export async function deliverWebhookBatch(ctx: SchedulerContext, job: Job<WebhookJobData>): Promise<number> {
  const { app } = job.data;
  const target = ctx.webhooks().get(app);
  if (!target) return 0; // webhook removed from the config since the job was queued
  const cursor = await ctx.feed.cursor(app);
  const items = await ctx.feed.read(app, cursor, target.batchSize);
  const last = items.at(-1);
  if (!last) return 0;
  const body = JSON.stringify({ app, items });
  try {
    await postWebhook(target, body, ctx.now());
  } catch (err) {
    const attempt = job.attemptsMade + 1;
    const error = (err as Error).message;
    if (attempt < (job.opts.attempts ?? 1)) {
      ctx.metrics.webhookDeliveries.inc({ app, result: 'error' });
      ctx.log.warn({ app, attempt, error, items: items.length }, 'webhook failed; will retry');
      throw err;
    }
    ctx.metrics.webhookDeliveries.inc({ app, result: 'dead' });
    ctx.log.error({ app, attempt, error, items: items.length }, 'webhook failed for good; dead letter');
    await ctx.feed.deadLetter(app, {
      from: cursor,
      to: last.id,
      items,
      attempts: attempt,
      error,
      at: new Date(ctx.now()).toISOString(),
    });
    await scheduleWebhook(ctx.webhookQueue, ctx.feed, app, target);
    throw err;
  }
  ctx.metrics.webhookDeliveries.inc({ app, result: 'ok' });
  ctx.metrics.webhookItems.inc({ app }, items.length);
  if (await ctx.feed.advance(app, cursor, last.id)) {
    await scheduleWebhook(ctx.webhookQueue, ctx.feed, app, target);
  }
  return items.length;
}

export interface WebhookWorker {
  worker: Worker<WebhookJobData>;
  /** Idempotent: closes the worker, then its own connection (BullMQ leaves passed-in ones open). */
  close(): Promise<void>;
}

export function startWebhookWorker(ctx: SchedulerContext): WebhookWorker {
  const connection = ctx.redis.duplicate();
  connection.on('error', (err) => ctx.log.warn({ err }, 'redis connection error'));
  const worker = new Worker<WebhookJobData>(webhooksQueueName, (job) => deliverWebhookBatch(ctx, job), {
    connection,
    prefix: fleetQueuePrefix(ctx.prefix),
    concurrency: ctx.config.scheduler.webhookConcurrency,
    settings: { backoffStrategy },
  });
  worker.on('error', (err) => ctx.log.error({ err }, 'webhook worker error'));
  let closing: Promise<void> | undefined;
  return {
    worker,
    close: () => {
      closing ??= worker.close().finally(() => connection.disconnect());
      return closing;
    },
  };
}
