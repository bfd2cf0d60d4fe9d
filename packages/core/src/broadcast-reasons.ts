/**
 * What to do with each answer of APNs' broadcast and channel-management APIs
 * (docs/apns-protocol.md §F.4): their own reason list, separate from the device-push table in
 * reasons.ts. One table for the worker (broadcasts) and the channel client alike.
 *
 * - `retry`: transient; try again later (with backoff, honouring Retry-After).
 * - `reject`: the request itself is wrong; retrying cannot help.
 * - `credentials`: the app's key or certificate is not accepted; pause instead of retrying.
 * - `refresh-token`: make a new JWT, then retry.
 * - `channel-gone`: the channel does not exist (never did, deleted, another app's or another
 *   environment's); forget it, never retry.
 * - `channel-limit`: the app already has the most channels APNs allows (10,000 per environment).
 * - `feature-disabled`: broadcast push is not enabled for the app (Apple's developer account);
 *   every broadcast and channel request of the app will fail the same way until it is.
 */
export type BroadcastReasonAction =
  | 'retry'
  | 'reject'
  | 'credentials'
  | 'refresh-token'
  | 'channel-gone'
  | 'channel-limit'
  | 'feature-disabled';

export const broadcastReasonTable = {
  FeatureNotEnabled: { status: 400, action: 'feature-disabled' },
  MissingChannelId: { status: 400, action: 'reject' },
  BadChannelId: { status: 400, action: 'reject' },
  ChannelNotRegistered: { status: 400, action: 'channel-gone' },
  BadRequestParams: { status: 400, action: 'reject' },
  BadRequestPayload: { status: 400, action: 'reject' },
  PayloadEmpty: { status: 400, action: 'reject' },
  BadMessageId: { status: 400, action: 'reject' },
  MissingPushType: { status: 400, action: 'reject' },
  InvalidPushType: { status: 400, action: 'reject' },
  CannotCreateChannelConfig: { status: 400, action: 'channel-limit' },
  BadExpirationDate: { status: 400, action: 'reject' },
  TopicDisallowed: { status: 400, action: 'reject' },
  BadPriority: { status: 400, action: 'reject' },
  BadCertificate: { status: 403, action: 'credentials' },
  BadCertificateEnvironment: { status: 403, action: 'credentials' },
  TopicMismatch: { status: 403, action: 'credentials' },
  MissingProviderToken: { status: 403, action: 'credentials' },
  ExpiredProviderToken: { status: 403, action: 'refresh-token' },
  InvalidProviderToken: { status: 403, action: 'credentials' },
  BadPath: { status: 404, action: 'reject' },
  MethodNotAllowed: { status: 405, action: 'reject' },
  PayloadTooLarge: { status: 413, action: 'reject' },
  TooManyRequests: { status: 429, action: 'retry' },
  TooManyProviderTokenUpdates: { status: 429, action: 'retry' },
  InternalServerError: { status: 500, action: 'retry' },
  // Apple's page writes it "Service Unavailable"; a reason with a space never passes the
  // transport's reason filter and is classified by its 503 instead (retry all the same).
  ServiceUnavailable: { status: 503, action: 'retry' },
  Shutdown: { status: 503, action: 'retry' },
} as const satisfies Record<string, { status: number; action: BroadcastReasonAction }>;

export type BroadcastReason = keyof typeof broadcastReasonTable;

export function isBroadcastReason(reason: string): reason is BroadcastReason {
  return Object.hasOwn(broadcastReasonTable, reason);
}

/** Classifies a broadcast or channel answer; an unknown reason falls back on its status class. */
export function broadcastActionFor(status: number, reason: string | undefined): BroadcastReasonAction {
  if (reason !== undefined && isBroadcastReason(reason)) return broadcastReasonTable[reason].action;
  if (status === 403) return 'credentials';
  if (status === 429 || status >= 500) return 'retry';
  return 'reject';
}
