import { z } from 'zod';
import { type Environment, environments } from './environment.ts';
import { PushfleetError } from './errors.ts';
import { assertPushTypeAllowed } from './live-activity.ts';
import {
  notificationSchema,
  type PreparedNotification,
  payloadBytes,
  prepareNotification,
} from './notification.ts';
import { payloadLimitFor, topicFor } from './push-type.ts';
import { isValidDeviceToken, normalizeDeviceToken } from './token.ts';

/** What validation needs to know about an app (a structural slice of the config's app entry). */
export interface AppTarget {
  bundleId: string;
  environments: readonly Environment[];
  /** The kind of credentials: Live Activity and location pushes need token auth (§H.1). */
  credentials?: { type: 'token' | 'certificate' };
}

const indexName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'no whitespace or ":"');

/** How far ahead a notification or campaign may be scheduled. */
export const maxScheduleAheadMs = 30 * 24 * 3600 * 1000;

const sendAtSchema = z.iso
  .datetime({ offset: true })
  .describe('ISO 8601 time to send at (at most 30 days ahead); a past time sends now');

export const sendRequestSchema = z
  .object({
    tokens: z.array(z.unknown()).optional().describe('Device tokens (hex); at most api.maxTokensPerRequest'),
    userIds: z.array(indexName).min(1).max(1000).optional().describe('Resolved through the device registry'),
    tags: z.array(indexName).min(1).max(100).optional().describe('Resolved through the device registry'),
    notification: notificationSchema,
    environment: z.enum(environments).optional(),
    sendAt: sendAtSchema.optional(),
  })
  .strict();

export type SendRequest = z.input<typeof sendRequestSchema>;

export const registryAudienceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }).strict(),
  z.object({ kind: z.literal('tags'), tags: z.array(indexName).min(1).max(100) }).strict(),
  z.object({ kind: z.literal('users'), userIds: z.array(indexName).min(1).max(100_000) }).strict(),
]);

export type RegistryAudience = z.output<typeof registryAudienceSchema>;

const inlineTokensAudience = z
  .object({ kind: z.literal('tokens'), tokens: z.array(z.unknown()).max(100_000) })
  .strict();

export const campaignSpecSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    environment: z.enum(environments).optional(),
    notification: notificationSchema,
    /** Absent for an uploaded audience (the request body carries the tokens). */
    audience: z.union([registryAudienceSchema, inlineTokensAudience]).optional(),
    sendAt: sendAtSchema.optional(),
    ratePerSecond: z.number().int().min(1).max(1_000_000).optional().describe('Tokens per second at most'),
  })
  .strict();

export type CampaignSpec = z.input<typeof campaignSpecSchema>;

export function fieldOf(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

export function parseOrThrow<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PushfleetError('PF_ERR_VALIDATION', issue.message, { field: fieldOf(issue.path) });
  }
  return parsed.data;
}

export function resolveEnvironment(app: AppTarget, requested: Environment | undefined): Environment {
  const environment = requested ?? app.environments[0]!;
  if (!app.environments.includes(environment)) {
    throw new PushfleetError('PF_ERR_ENVIRONMENT_NOT_ENABLED', undefined, { field: 'environment' });
  }
  return environment;
}

/** Builds the wire form once and checks it against the push type's size limit. */
export function prepareChecked(
  notification: z.output<typeof notificationSchema>,
  app: AppTarget,
  now = Date.now(),
): PreparedNotification {
  if (app.credentials) assertPushTypeAllowed(notification.pushType, app.credentials.type);
  const prepared = prepareNotification(notification, topicFor(app.bundleId, notification.pushType), now);
  const limit = payloadLimitFor(notification.pushType);
  if (payloadBytes(prepared) > limit) {
    throw new PushfleetError(
      'PF_ERR_PAYLOAD_TOO_LARGE',
      `payload is ${payloadBytes(prepared)} bytes; the ${notification.pushType} limit is ${limit}`,
      { field: 'notification' },
    );
  }
  return prepared;
}

/** Delay until `sendAt` (0 when absent or past); refuses times too far ahead. */
export function delayUntil(sendAt: string | undefined, now: number, field = 'sendAt'): number {
  if (sendAt === undefined) return 0;
  const delay = Date.parse(sendAt) - now;
  if (delay > maxScheduleAheadMs) {
    throw new PushfleetError('PF_ERR_VALIDATION', 'sendAt is more than 30 days ahead', { field });
  }
  return Math.max(0, delay);
}

/** Validates and normalises tokens; duplicates collapse (one request never notifies a device twice). */
export function normalizeTokens(raw: unknown[], field = 'tokens'): string[] {
  const unique = new Set<string>();
  raw.forEach((token, i) => {
    if (!isValidDeviceToken(token))
      throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: `${field}.${i}` });
    unique.add(normalizeDeviceToken(token));
  });
  return [...unique];
}

export interface ValidSendRequest {
  environment: Environment;
  /** Set when the request named tokens; null when it names user ids or tags to resolve. */
  tokens: string[] | null;
  audience: { kind: 'users'; userIds: string[] } | { kind: 'tags'; tags: string[] } | null;
  prepared: PreparedNotification;
  delayMs: number;
}

/**
 * Validates a send request completely before anything touches Redis, so a bad request leaves
 * no trace. Exactly one of tokens, userIds, tags.
 */
export function validateSendRequest(
  body: unknown,
  app: AppTarget,
  maxTokens: number,
  now = Date.now(),
): ValidSendRequest {
  const data = parseOrThrow(sendRequestSchema, body);
  const named = [data.tokens, data.userIds, data.tags].filter((x) => x !== undefined).length;
  if (named !== 1) {
    throw new PushfleetError('PF_ERR_VALIDATION', 'give exactly one of tokens, userIds, tags', {
      field: 'tokens',
    });
  }
  let tokens: string[] | null = null;
  if (data.tokens) {
    if (data.tokens.length === 0)
      throw new PushfleetError('PF_ERR_EMPTY_TOKENS', undefined, { field: 'tokens' });
    if (data.tokens.length > maxTokens) {
      throw new PushfleetError('PF_ERR_TOO_MANY_TOKENS', `at most ${maxTokens} tokens per request`, {
        field: 'tokens',
      });
    }
    tokens = normalizeTokens(data.tokens);
  }
  const environment = resolveEnvironment(app, data.environment);
  const prepared = prepareChecked(data.notification, app, now);
  const delayMs = delayUntil(data.sendAt, now);
  const audience = data.userIds
    ? { kind: 'users' as const, userIds: data.userIds }
    : data.tags
      ? { kind: 'tags' as const, tags: data.tags }
      : null;
  return { environment, tokens, audience, prepared, delayMs };
}

export interface ValidCampaignSpec {
  name: string | undefined;
  environment: Environment;
  prepared: PreparedNotification;
  /** null: the audience is uploaded in the request body. */
  audience: RegistryAudience | { kind: 'tokens'; tokens: string[] } | null;
  delayMs: number;
  sendAt: number | undefined;
  ratePerSecond: number | undefined;
}

export function validateCampaignSpec(body: unknown, app: AppTarget, now = Date.now()): ValidCampaignSpec {
  const spec = parseOrThrow(campaignSpecSchema, body);
  const environment = resolveEnvironment(app, spec.environment);
  const prepared = prepareChecked(spec.notification, app, now);
  const delayMs = delayUntil(spec.sendAt, now);
  let audience: ValidCampaignSpec['audience'] = null;
  if (spec.audience?.kind === 'tokens') {
    if (spec.audience.tokens.length === 0)
      throw new PushfleetError('PF_ERR_EMPTY_AUDIENCE', undefined, { field: 'audience.tokens' });
    audience = { kind: 'tokens', tokens: normalizeTokens(spec.audience.tokens, 'audience.tokens') };
  } else if (spec.audience) audience = spec.audience;
  return {
    name: spec.name,
    environment,
    prepared,
    audience,
    delayMs,
    sendAt: delayMs > 0 ? now + delayMs : undefined,
    ratePerSecond: spec.ratePerSecond,
  };
}
