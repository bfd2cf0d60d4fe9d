import type { Redis } from 'ioredis';
import type { FeedbackEvent } from './feedback-purger.ts';
import { storeKeys } from './keys.ts';

export type NewFeedbackEvent = Omit<FeedbackEvent, 'id'>;

/**
 * Adds events to the feedback stream with the fields the delivery worker writes, so legacy
 * feedback tuples and stale tokens go through the same consumer group and the same rule.
 * One MULTI per app: a crash publishes all of an app's events or none.
 */
export async function publishFeedbackEvents(
  redis: Redis,
  prefix: string,
  events: NewFeedbackEvent[],
): Promise<void> {
  if (events.length === 0) return;
  // Each app's stream is in the app's own slot: one MULTI per app.
  const byApp = new Map<string, NewFeedbackEvent[]>();
  for (const e of events) byApp.set(e.app, [...(byApp.get(e.app) ?? []), e]);
  for (const appEvents of byApp.values()) await publishToApp(redis, prefix, appEvents);
}

async function publishToApp(redis: Redis, prefix: string, events: NewFeedbackEvent[]): Promise<void> {
  const multi = redis.multi();
  for (const e of events) {
    multi.xadd(
      storeKeys.feedbackStream(prefix, e.app),
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
