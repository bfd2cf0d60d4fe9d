import type { AppDirectory, Config } from '@pushfleet/config';
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
  /** The apps served now (config and registry), read per run: apps come and go at run time. */
  directory: AppDirectory;
  /** Apps with a webhook now, secrets resolved. */
  webhooks(): ReadonlyMap<string, WebhookTarget>;
  now(): number;
}
