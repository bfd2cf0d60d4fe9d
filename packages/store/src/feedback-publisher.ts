import type { Redis } from 'ioredis';
import type { FeedbackEvent } from './feedback-purger.ts';
import { storeKeys } from './keys.ts';

export type NewFeedbackEvent = Omit<FeedbackEvent, 'id'>;

/**
 * Adds events to the feedback stream with the fields the delivery worker writes, so legacy
 * feedback tuples and stale tokens go through the same consumer group and the same rule.
 * One MULTI: a crash publishes all of them or none.
 */
export async function publishFeedbackEvents(
  redis: Redis,
  prefix: string,
  events: NewFeedbackEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const multi = redis.multi();
  for (const e of events) {
    multi.xadd(
      storeKeys.feedbackStream(prefix),
      '*',
      'app',
      e.app,
      'environment',
      e.environment,
      'token',
      e.token,
      'reason',
      e.reason,
      'timestamp',
      String(e.timestamp),
    );
  }
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}
