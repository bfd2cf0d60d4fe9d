import {
  type CampaignStatus,
  type DeviceRegistration,
  environments,
  type NotificationStatus,
  outcomes,
} from '@pushfleet/core';
import type { FeedItem } from '@pushfleet/store';
import { z } from 'zod';
import { exampleToken } from './common.ts';

/**
 * What the API answers, as zod schemas for the OpenAPI document. The records themselves are
 * typed in @pushfleet/core (api-types.ts) and built by the stores; the `Same<…>` checks at the
 * end fail the type check when a schema and its type part ways.
 */

const iso = (description: string) => z.iso.datetime().describe(description);
const isoOrNull = (description: string) => z.iso.datetime().nullable().describe(description);
const count = (description: string) => z.number().int().min(0).describe(description);
const byReason = (description: string) =>
  z
    .record(z.string(), z.number().int().min(0))
    .describe(description)
    .meta({ example: { BadDeviceToken: 3 } });
const environment = z.enum(environments).describe('APNs environment');

export const notificationAcceptedSchema = z
  .object({
    id: z.string().describe('The notification id: read its status and report with it'),
    accepted: count('Tokens accepted (duplicates collapsed; user ids and tags resolved)'),
  })
  .meta({ id: 'NotificationAccepted', example: { id: '0b6f0a4e-5c43-4f4e-9d57-2f1f4f4b7c11', accepted: 2 } });

export const notificationStatusSchema = z
  .object({
    id: z.string().describe('Notification id'),
    app: z.string().describe('App id'),
    environment,
    state: z.enum(['queued', 'done']).describe('`done` once every token has a terminal outcome'),
    accepted: count('Tokens accepted'),
    delivered: count('Tokens APNs accepted'),
    rejected: count('Tokens APNs refused for good (see `reasons`)'),
    failed: count('Tokens given up on after retries, or for credentials'),
    expired: count('Tokens whose `expiration` passed before they were sent'),
    cancelled: count('Tokens not sent because the notification was cancelled'),
    reasons: byReason('Rejected and failed tokens by reason (APNs reasons, or Pushfleet’s own)'),
    createdAt: iso('When it was accepted'),
    finishedAt: isoOrNull('When the last token got its outcome (null until `done`)'),
  })
  .meta({ id: 'NotificationStatus' });

export const campaignAcceptedSchema = z
  .object({
    campaignId: z.string().describe('The campaign id'),
    total: z
      .number()
      .int()
      .min(0)
      .nullable()
      .describe(
        'Audience size: the uploaded or inline tokens; null for a registry audience (known once expanded)',
      ),
  })
  .meta({
    id: 'CampaignAccepted',
    example: { campaignId: '7d0c1f3e-9c55-4a5e-8f4e-6f3a1c2b9d80', total: 1000000 },
  });

export const campaignStatusSchema = z
  .object({
    id: z.string().describe('Campaign id'),
    app: z.string().describe('App id'),
    environment,
    name: z.string().nullable().describe('The name given at creation'),
    audience: z.enum(['upload', 'all', 'tags', 'users']).describe('Where the audience came from'),
    state: z
      .enum(['scheduled', 'queued', 'running', 'cancelling', 'cancelled', 'done', 'failed'])
      .describe(
        '`scheduled → queued → running → done`, `cancelling → cancelled`, or `failed` (nothing sent)',
      ),
    error: z.string().nullable().describe('A `PF_ERR_` code when the campaign failed before sending'),
    total: z
      .number()
      .int()
      .min(0)
      .nullable()
      .describe('Audience size; null until a registry audience is expanded'),
    queued: count('Tokens handed to deliver batches so far'),
    accepted: count('Tokens accepted into batches'),
    delivered: count('Tokens APNs accepted'),
    rejected: byReason('Tokens APNs refused for good, by reason'),
    failed: count('Tokens given up on after retries, or for credentials'),
    failedReasons: byReason('Failed tokens by reason'),
    invalidated: count('Tokens APNs reported dead (part of `rejected`)'),
    expired: count('Tokens whose `expiration` passed before they were sent'),
    cancelled: count('Tokens not sent because the campaign was cancelled'),
    ratePerSecond: z.number().int().nullable().describe('The pace asked for, tokens per second'),
    createdAt: iso('When it was accepted'),
    sendAt: isoOrNull('When it is scheduled to start'),
    startedAt: isoOrNull('When the fan-out started'),
    cancelledAt: isoOrNull('When it was cancelled'),
    finishedAt: isoOrNull('When the last token got its outcome'),
  })
  .meta({ id: 'CampaignStatus' });

export const campaignListSchema = z
  .object({
    items: z.array(campaignStatusSchema).describe('Campaigns, newest first'),
    next: z.number().nullable().describe('Pass as `before` for the next page; null on the last page'),
  })
  .meta({ id: 'CampaignList' });

export const deviceRegistrationSchema = z
  .object({
    token: z.string().describe('Device token, lower-case hex'),
    app: z.string().describe('App id'),
    environment,
    userId: z.string().nullable().describe('Your user id for the device'),
    tags: z.array(z.string()).describe('Tags the device is in'),
    locale: z.string().nullable().describe('The device’s locale'),
    registeredAt: iso('When it was last registered or refreshed'),
  })
  .meta({
    id: 'DeviceRegistration',
    example: {
      token: exampleToken,
      app: 'shop',
      environment: 'production',
      userId: 'u-1842',
      tags: ['vip'],
      locale: 'en-GB',
      registeredAt: '2026-05-01T09:30:00.000Z',
    },
  });

export const importResultSchema = z
  .object({ imported: count('Registrations written') })
  .meta({ id: 'ImportResult', example: { imported: 2500 } });

export const feedbackItemSchema = z
  .object({
    id: z.string().describe('Feed id: pass the last one as `since` to continue'),
    token: z.string().describe('The device token'),
    environment: z.string().describe('APNs environment'),
    reason: z.string().describe('Why the token went bad (`Unregistered`, `BadDeviceToken`, …)'),
    timestamp: iso('When APNs said the token went bad'),
    action: z.string().describe('`purged` (removed from the registry) or `unknown` (not registered here)'),
  })
  .meta({ id: 'FeedbackItem' });

export const feedbackPageSchema = z
  .object({
    items: z.array(feedbackItemSchema).describe('Oldest first'),
    next: z.string().nullable().describe('Pass as `since` to continue (null: nothing read yet)'),
  })
  .meta({ id: 'FeedbackPage' });

export const reportLineSchema = z
  .object({
    token: z.string().describe('Device token'),
    outcome: z
      .enum(outcomes.filter((o) => o !== 'delivered') as ['rejected', 'failed', 'expired', 'cancelled'])
      .describe('How the token ended'),
    reason: z
      .string()
      .describe('APNs’ reason, or Pushfleet’s own (`Expired`, `Cancelled`, `ConnectionError`, …)'),
    time: iso('When the token got its outcome'),
  })
  .meta({
    id: 'ReportLine',
    description: 'One token that did not end delivered. NDJSON: one such object per line.',
    example: {
      token: exampleToken,
      outcome: 'rejected',
      reason: 'BadDeviceToken',
      time: '2026-05-01T09:30:01.250Z',
    },
  });

export const healthSchema = z.object({ status: z.literal('ok') }).describe('The process is up');
export const readySchema = z
  .object({ status: z.enum(['ready', 'not-ready']) })
  .describe('`ready` when Redis answers');

// Compile-time: each schema's output is exactly the type the stores build.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <_ extends true>() => undefined;
same<Same<z.output<typeof notificationStatusSchema>, NotificationStatus>>();
same<Same<z.output<typeof campaignStatusSchema>, CampaignStatus>>();
same<Same<z.output<typeof deviceRegistrationSchema>, DeviceRegistration>>();
same<Same<z.output<typeof feedbackItemSchema>, FeedItem>>();
