import { type FeedbackAction, type FeedbackEvent, staleReason } from '@pushfleet/store';
import type { SchedulerContext } from './context.ts';
import { scheduleWebhook } from './webhook-queue.ts';

const labelledReasons = new Set([
  'Unregistered',
  'ExpiredToken',
  'BadDeviceToken',
  'DeviceTokenNotForTopic',
  staleReason,
]);

/**
 * The `feedback-poll` job: applies every new feedback event with the timestamp rule (through the
 * consumer group, so overlapping runs on several replicas split the work), then queues webhook
 * deliveries for apps whose feed grew.
 */
export async function runFeedbackPoll(ctx: SchedulerContext): Promise<{ claimed: number; read: number }> {
  const directory = ctx.directory;
  const onApplied = (event: FeedbackEvent, action: FeedbackAction) => {
    if (action === 'duplicate') return;
    // Labels stay bounded even when an entry is malformed or names an app we do not serve.
    const known = directory.get(event.app) !== undefined;
    ctx.metrics.feedbackEvents.inc({
      app: known ? event.app : 'other',
      environment:
        event.environment === 'production' || event.environment === 'sandbox' ? event.environment : 'other',
      reason: labelledReasons.has(event.reason) ? event.reason : 'other',
      action,
    });
  };
  const result = await ctx.processor.run({
    maxEvents: ctx.config.scheduler.feedbackMaxEventsPerRun,
    onApplied,
  });
  for (const [app, target] of ctx.webhooks()) await scheduleWebhook(ctx.webhookQueue, ctx.feed, app, target);
  if (result.claimed > 0)
    ctx.log.warn({ claimed: result.claimed }, 'took over feedback events of a stopped consumer');
  ctx.log.debug(result, 'feedback poll done');
  return result;
}
