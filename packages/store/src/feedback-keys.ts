import { appSpace } from './ledger/keys.ts';

/**
 * Keys of the feedback service, beside `storeKeys.feedbackStream` (the one input stream every
 * worker writes invalidations to).
 *
 * The per-app feed (`feed`) is the service's output: one stream entry per decided event, oldest
 * first, with the fields of `FeedEntryFields`. Its stream ids are the feed's cursor (the API's
 * `?since=` and the webhook cursor), and housekeeping trims it by age.
 */
export const feedbackKeys = {
  feed: (prefix: string, app: string) => `${appSpace(prefix, app)}:feedback-feed`,
  /** Id of the last feed entry a webhook endpoint acknowledged with a 2xx. */
  webhookCursor: (prefix: string, app: string) => `${appSpace(prefix, app)}:feedback-webhook:cursor`,
  /** Batches that failed every attempt (newest first, capped). */
  webhookDeadLetters: (prefix: string, app: string) => `${appSpace(prefix, app)}:feedback-webhook:dead`,
};

/** The consumer group that purges; one group, so each event is decided once fleet-wide. */
export const feedbackGroup = 'purger';

/** The fields of one per-app feed entry, all strings as Redis stores them. */
export interface FeedEntryFields {
  token: string;
  environment: string;
  /** APNs reason (`Unregistered`, `ExpiredToken`, `BadDeviceToken`, …) or `Stale`. */
  reason: string;
  /** When the token was found dead, ms since the epoch (Apple's 410 timestamp when it gave one). */
  timestamp: string;
  /** `purged`: removed from the registry; `unknown`: not registered here, drop it on your side too. */
  action: 'purged' | 'unknown';
  /** Id of the input event in the feedback stream (for tracing). */
  event: string;
}

/** Reason of the events the stale-token sweep publishes (not an APNs reason). */
export const staleReason = 'Stale';
