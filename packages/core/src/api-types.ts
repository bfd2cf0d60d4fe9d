import type { Environment } from './environment.ts';

/**
 * What the HTTP API answers: one definition shared by the stores that build these records, the
 * API that serves them and the SDK that reads them.
 */

export interface NotificationStatus {
  id: string;
  app: string;
  environment: Environment;
  state: 'queued' | 'done';
  accepted: number;
  delivered: number;
  rejected: number;
  failed: number;
  expired: number;
  cancelled: number;
  reasons: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
}

/** A broadcast (one request to one channel) as the API reports it. */
export interface BroadcastStatus {
  id: string;
  app: string;
  environment: Environment;
  /** The channel's name. */
  channel: string;
  state: 'queued' | 'done';
  /** null until done. */
  outcome: 'delivered' | 'rejected' | 'failed' | 'expired' | 'cancelled' | null;
  /** APNs' reason (or Pushfleet's own) when it did not end delivered. */
  reason: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export type CampaignAudienceKind = 'upload' | 'all' | 'tags' | 'users';
/**
 * `failed`: the campaign could not start (its `error` says why, e.g. a registry audience over
 * `api.maxCampaignTokens`); nothing was sent.
 */
export type CampaignState =
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'cancelling'
  | 'cancelled'
  | 'done'
  | 'failed';

export interface CampaignStatus {
  id: string;
  app: string;
  environment: Environment;
  name: string | null;
  audience: CampaignAudienceKind;
  state: CampaignState;
  /** A stable `PF_ERR_` code when the campaign failed before sending, else null. */
  error: string | null;
  /** Audience size; null until a registry audience is materialised. */
  total: number | null;
  /** Tokens handed to deliver batches so far. */
  queued: number;
  accepted: number;
  delivered: number;
  /** Rejections by APNs reason. */
  rejected: Record<string, number>;
  failed: number;
  /** Failures (retries exhausted, credentials) by reason. */
  failedReasons: Record<string, number>;
  /** Tokens APNs reported dead (a subset of rejected). */
  invalidated: number;
  expired: number;
  cancelled: number;
  ratePerSecond: number | null;
  createdAt: string;
  sendAt: string | null;
  startedAt: string | null;
  cancelledAt: string | null;
  finishedAt: string | null;
}

export interface DeviceRegistration {
  token: string;
  app: string;
  environment: Environment;
  userId: string | null;
  tags: string[];
  locale: string | null;
  registeredAt: string;
}

/** One entry of the feedback feed (`GET /v1/apps/:app/feedback`). */
export interface FeedbackItem {
  /** Feed id: pass the last one as `since` to continue. */
  id: string;
  token: string;
  environment: string;
  reason: string;
  /** When APNs said the token went bad (its 410 timestamp, or the answer's time). */
  timestamp: string;
}
