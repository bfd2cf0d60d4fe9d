import type { Environment, ErrorCode, NotificationInput } from '@pushfleet/core';

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

export type CampaignState = 'scheduled' | 'queued' | 'running' | 'cancelling' | 'cancelled' | 'done';

export interface CampaignStatus {
  id: string;
  app: string;
  environment: Environment;
  name: string | null;
  audience: 'upload' | 'all' | 'tags' | 'users';
  state: CampaignState;
  total: number | null;
  queued: number;
  accepted: number;
  delivered: number;
  rejected: Record<string, number>;
  failed: number;
  failedReasons: Record<string, number>;
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

export interface DeviceRegistrationRequest {
  environment?: Environment;
  userId?: string;
  tags?: string[];
  locale?: string;
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

export interface DeviceImportLine extends DeviceRegistrationRequest {
  token: string;
}

export interface FeedbackItem {
  id: string;
  token: string;
  environment: string;
  reason: string;
  timestamp: string;
}

export interface ApiErrorBody {
  code: ErrorCode | string;
  message: string;
  field?: string;
}
