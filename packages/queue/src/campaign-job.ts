import type { Environment, PreparedNotification } from '@pushfleet/core';
import type { JobsOptions } from 'bullmq';
import type { RegistryAudience } from './requests.ts';

/**
 * One queue for every app's campaigns: fan-out only reads Redis and adds jobs (it never waits on
 * APNs), so one app cannot hold up another there; per-app isolation matters on the deliver
 * queues, which stay per app. One queue also means one BullMQ Worker per process, not one per app.
 */
export const campaignsQueueName = 'campaigns';

export type CampaignAudience = { kind: 'list' } | RegistryAudience;

/** Where the fan-out got to; saved in the job data after every page, so a crash resumes there. */
export interface FanoutCursor {
  /** `materialise` copies a registry audience into the campaign's token list first. */
  phase: 'materialise' | 'fanout';
  /** Tokens of the list already turned into deliver batches (batchNo = offset / batch size). */
  offset: number;
  /** When rate-limited delivery started: batch n is delayed to start + n·size/rate. */
  rateStartedAt?: number;
}

export interface CampaignJobData {
  campaignId: string;
  app: string;
  environment: Environment;
  audience: CampaignAudience;
  prepared: PreparedNotification;
  ratePerSecond?: number;
  /** BullMQ priority of the deliver batches (higher number = later than single notifications). */
  priority: number;
  cursor: FanoutCursor;
}

export const campaignJobOptions: JobsOptions = {
  // The fan-out is resumable, so an unexpected error just runs it again from the saved cursor.
  attempts: 20,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Single notifications overtake campaign batches: BullMQ runs lower priority numbers first. */
export const singleNotificationPriority = 1;
