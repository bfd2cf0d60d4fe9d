import type { Environment, ErrorCode, NotificationInput } from '@pushfleet/core';

export type {
  CampaignState,
  CampaignStatus,
  DeviceRegistration,
  FeedbackItem,
  NotificationStatus,
} from '@pushfleet/core';

export interface SendNotificationRequest {
  /** Up to 1000 hex device tokens; or `userIds` / `tags` resolved by the device registry. */
  tokens?: string[];
  userIds?: string[];
  tags?: string[];
  notification: NotificationInput;
  environment?: Environment;
  /** ISO 8601; at most 30 days ahead. */
  sendAt?: string;
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
  name?: string;
  environment?: Environment;
  notification: NotificationInput;
  sendAt?: string;
  ratePerSecond?: number;
}

export interface CreateCampaignResponse {
  campaignId: string;
  /** Audience size; null for registry audiences until the fan-out materialises them. */
  total: number | null;
}

export interface DeviceRegistrationRequest {
  environment?: Environment;
  userId?: string;
  tags?: string[];
  locale?: string;
}

export interface DeviceImportLine extends DeviceRegistrationRequest {
  token: string;
}

export interface ApiErrorBody {
  code: ErrorCode | string;
  message: string;
  field?: string;
}
