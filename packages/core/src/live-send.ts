import { z } from 'zod';
import { type Environment, environments } from './environment.ts';
import { PushfleetError } from './errors.ts';
import { activityIdSchema, attributesTypeSchema } from './live-activity.ts';
import { type Notification, notificationSchema, type PreparedNotification } from './notification.ts';
import {
  type AppTarget,
  delayUntil,
  normalizeTokens,
  parseOrThrow,
  prepareChecked,
  resolveEnvironment,
} from './requests.ts';

// A Live Activity push as producers address it (docs/apns-protocol.md §H.3): to tokens, to
// activity ids (an update or end; each resolved to its current token when it is sent), or to
// user ids (a start: their push-to-start tokens of the attributes type; an update or end: the
// tokens of their running activities).

const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'no whitespace or ":"');

/** Targets per request at most (as for notifications: larger audiences are campaigns). */
export const maxLiveTargets = 1000;

function withLiveActivityType(n: unknown): unknown {
  if (n && typeof n === 'object' && !Array.isArray(n) && !('pushType' in n)) {
    return { ...n, pushType: 'liveactivity' };
  }
  return n;
}

export const liveSendRequestSchema = z
  .object({
    tokens: z.array(z.unknown()).max(maxLiveTargets).optional(),
    activityIds: z.array(activityIdSchema).min(1).max(maxLiveTargets).optional(),
    userIds: z.array(userIdSchema).min(1).max(maxLiveTargets).optional(),
    /** `pushType` may be left out here: it is `liveactivity` (and may be nothing else). */
    notification: z.preprocess(withLiveActivityType, notificationSchema),
    environment: z.enum(environments).optional(),
    sendAt: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

export type LiveSendRequest = z.input<typeof liveSendRequestSchema>;

export type LiveTarget =
  | { kind: 'tokens'; tokens: string[] }
  | { kind: 'activities'; activityIds: string[] }
  | { kind: 'users'; userIds: string[] };

export interface ValidLiveSend {
  environment: Environment;
  target: LiveTarget;
  event: 'start' | 'update' | 'end';
  /** A start's ActivityAttributes type: which push-to-start tokens user ids resolve to. */
  attributesType: string | undefined;
  prepared: PreparedNotification;
  delayMs: number;
}

/**
 * Validates a Live Activity push completely (the payload rules of §H.2, the token-auth rule of
 * §H.1, the target) before anything touches Redis. `notification.pushType` defaults to
 * `liveactivity` here and may be nothing else.
 */
export function validateLiveSendRequest(body: unknown, app: AppTarget, now = Date.now()): ValidLiveSend {
  const data = parseOrThrow(liveSendRequestSchema, body);
  const n: Notification = data.notification;
  if (n.pushType !== 'liveactivity') {
    throw new PushfleetError('PF_ERR_VALIDATION', 'a Live Activity push has pushType "liveactivity"', {
      field: 'notification.pushType',
    });
  }
  const named = [data.tokens, data.activityIds, data.userIds].filter((x) => x !== undefined).length;
  if (named !== 1) {
    throw new PushfleetError('PF_ERR_VALIDATION', 'give exactly one of tokens, activityIds, userIds', {
      field: 'tokens',
    });
  }
  const event = n.event!;
  let target: LiveTarget;
  if (data.tokens) {
    if (data.tokens.length === 0)
      throw new PushfleetError('PF_ERR_EMPTY_TOKENS', undefined, { field: 'tokens' });
    target = { kind: 'tokens', tokens: normalizeTokens(data.tokens) };
  } else if (data.activityIds) {
    if (event === 'start') {
      throw new PushfleetError(
        'PF_ERR_VALIDATION',
        'a start creates the activity: send it to push-to-start tokens or user ids, not activity ids',
        { field: 'activityIds' },
      );
    }
    target = { kind: 'activities', activityIds: [...new Set(data.activityIds)] };
  } else target = { kind: 'users', userIds: [...new Set(data.userIds!)] };
  const environment = resolveEnvironment(app, data.environment);
  const prepared = prepareChecked(n, app, now);
  return {
    environment,
    target,
    event,
    attributesType: n.attributesType,
    prepared,
    delayMs: delayUntil(data.sendAt, now),
  };
}

/** `PUT …/live-activities/push-to-start/:token`: the token's attributes type and user. */
export const pushToStartRegistrationSchema = z
  .object({
    attributesType: attributesTypeSchema,
    userId: userIdSchema.optional(),
    environment: z.enum(environments).optional(),
  })
  .strict();

/** `PUT …/live-activities/:activityId/token`: the activity's current update token (a rotation replaces it). */
export const activityTokenRegistrationSchema = z
  .object({
    token: z.unknown(),
    userId: userIdSchema.optional(),
    attributesType: attributesTypeSchema.optional(),
    environment: z.enum(environments).optional(),
  })
  .strict();

export { userIdSchema as liveUserIdSchema };
