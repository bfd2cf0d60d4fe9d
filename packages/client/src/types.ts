import type { Environment, ErrorCode, NotificationInput } from '@pushfleet/core';

export type {
  CampaignState,
  CampaignStatus,
  DeviceRegistration,
  Environment,
  ErrorCode,
  FeedbackItem,
  NotificationInput,
  NotificationStatus,
} from '@pushfleet/core';

export interface SendNotificationRequest {
  /** Up to 1000 hex device tokens; or `userIds` / `tags` resolved by the device registry. */
  tokens?: string[] | undefined;
  userIds?: string[] | undefined;
  tags?: string[] | undefined;
  notification: NotificationInput;
  environment?: Environment | undefined;
  /** ISO 8601; at most 30 days ahead. */
  sendAt?: string | undefined;
}

export interface SendNotificationResponse {
  id: string;
  accepted: number;
}

export type RegistryAudience =
  | { kind: 'all' }
  | { kind: 'tags'; tags: string[] }
  | { kind: 'users'; userIds: string[] };

export interface CampaignSpec {
  name?: string | undefined;
  environment?: Environment | undefined;
  notification: NotificationInput;
  sendAt?: string | undefined;
  ratePerSecond?: number | undefined;
}

export interface CreateCampaignResponse {
  campaignId: string;
  /** Audience size; null for registry audiences until the fan-out materialises them. */
  total: number | null;
}

export interface DeviceRegistrationRequest {
  environment?: Environment | undefined;
  userId?: string | undefined;
  tags?: string[] | undefined;
  locale?: string | undefined;
}

export interface DeviceImportLine extends DeviceRegistrationRequest {
  token: string;
}

export interface ApiErrorBody {
  code: ErrorCode | string;
  message: string;
  field?: string | undefined;
}

export type ReportFormat = 'ndjson' | 'csv';

/** One line of a campaign or notification report: a token that did not end delivered. */
export interface ReportRow {
  token: string;
  outcome: 'rejected' | 'failed' | 'expired' | 'cancelled';
  /** APNs' reason (`BadDeviceToken`, `Unregistered`, …) or Pushfleet's own (`Expired`, `Cancelled`, …). */
  reason: string;
  /** ISO 8601: when the token got its outcome. */
  time: string;
}
