import { jobBackoff } from '@pushfleet/queue';
import type { FeedbackFeed } from '@pushfleet/store';
import type { Queue } from 'bullmq';

export const webhooksQueueName = 'webhooks';

export interface WebhookJobData {
  app: string;
}

/** An app's webhook with its secret resolved (config `feedback.webhook`). */
export interface WebhookTarget {
  url: string;
  secret: string;
  batchSize: number;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
}

/**
 * Queues the delivery of the app's next batch if the feed has undelivered entries. The job id
 * names the cursor, so while a batch is waiting or backing off between attempts, more calls
 * (every feedback poll) add nothing; once the cursor moves, the next batch gets a new job.
 */
export async function scheduleWebhook(
  queue: Queue<WebhookJobData>,
  feed: FeedbackFeed,
  app: string,
  target: WebhookTarget,
): Promise<boolean> {
  if (!(await feed.hasUndelivered(app))) return false;
  const cursor = (await feed.cursor(app)) ?? 'start';
  await queue.add(
    'deliver-feed',
    { app },
    {
      jobId: `webhook-${app}-${cursor}`,
      attempts: target.maxAttempts,
      backoff: jobBackoff(target.backoffMs),
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  );
  return true;
}
