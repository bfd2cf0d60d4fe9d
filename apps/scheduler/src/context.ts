import type { Config } from '@pushfleet/config';
import type { FeedbackFeed, FeedbackProcessor, Ledger } from '@pushfleet/store';
import type { Logger, SchedulerMetrics } from '@pushfleet/telemetry';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WebhookJobData, WebhookTarget } from './webhook-queue.ts';

/** What every scheduled job gets: connections, config, metrics; no module-level state. */
export interface SchedulerContext {
  redis: Redis;
  prefix: string;
  config: Readonly<Config>;
  log: Logger;
  metrics: SchedulerMetrics;
  processor: FeedbackProcessor;
  ledger: Ledger;
  feed: FeedbackFeed;
  webhookQueue: Queue<WebhookJobData>;
  /** Apps with a webhook, secrets resolved at start-up. */
  webhooks: ReadonlyMap<string, WebhookTarget>;
  now(): number;
}
