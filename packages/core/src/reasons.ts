/**
 * What to do with each APNs answer (docs/apns-protocol.md §A.9). One table, used by the worker to
 * classify every result and by tests to check the simulator and the worker agree.
 *
 * - `retry`: transient; send the same token again later (with backoff, honouring Retry-After).
 * - `invalidate-token`: the token is dead; never retry, publish a feedback event.
 * - `reject`: the request itself is wrong; retrying cannot help.
 * - `credentials`: the app's key or certificate is wrong; pause the app instead of burning tokens.
 * - `refresh-token`: make a new JWT, then retry.
 */
export type ReasonAction = 'retry' | 'invalidate-token' | 'reject' | 'credentials' | 'refresh-token';

export const reasonTable = {
  BadCollapseId: { status: 400, action: 'reject' },
  BadDeviceToken: { status: 400, action: 'invalidate-token' },
  BadExpirationDate: { status: 400, action: 'reject' },
  BadMessageId: { status: 400, action: 'reject' },
  BadPriority: { status: 400, action: 'reject' },
  BadTopic: { status: 400, action: 'reject' },
  DeviceTokenNotForTopic: { status: 400, action: 'invalidate-token' },
  DuplicateHeaders: { status: 400, action: 'reject' },
  // Undocumented trigger; the connection is stale, so a new one and a retry is the safe answer.
  IdleTimeout: { status: 400, action: 'retry' },
  InvalidPushType: { status: 400, action: 'reject' },
  MissingDeviceToken: { status: 400, action: 'reject' },
  MissingTopic: { status: 400, action: 'reject' },
  PayloadEmpty: { status: 400, action: 'reject' },
  TopicDisallowed: { status: 400, action: 'reject' },
  BadCertificate: { status: 403, action: 'credentials' },
  BadCertificateEnvironment: { status: 403, action: 'credentials' },
  ExpiredProviderToken: { status: 403, action: 'refresh-token' },
  Forbidden: { status: 403, action: 'reject' },
  InvalidProviderToken: { status: 403, action: 'credentials' },
  MissingProviderToken: { status: 403, action: 'credentials' },
  UnrelatedKeyIdInToken: { status: 403, action: 'credentials' },
  BadEnvironmentKeyIdInToken: { status: 403, action: 'credentials' },
  BadPath: { status: 404, action: 'reject' },
  MethodNotAllowed: { status: 405, action: 'reject' },
  ExpiredToken: { status: 410, action: 'invalidate-token' },
  Unregistered: { status: 410, action: 'invalidate-token' },
  PayloadTooLarge: { status: 413, action: 'reject' },
  TooManyProviderTokenUpdates: { status: 429, action: 'retry' },
  TooManyRequests: { status: 429, action: 'retry' },
  InternalServerError: { status: 500, action: 'retry' },
  ServiceUnavailable: { status: 503, action: 'retry' },
  Shutdown: { status: 503, action: 'retry' },
} as const satisfies Record<string, { status: number; action: ReasonAction }>;

export type ApnsReason = keyof typeof reasonTable;

export function isKnownReason(reason: string): reason is ApnsReason {
  return Object.hasOwn(reasonTable, reason);
}

/** Classifies an APNs answer; an unknown reason falls back on its status class. */
export function actionFor(status: number, reason: string | undefined): ReasonAction {
  if (reason !== undefined && isKnownReason(reason)) return reasonTable[reason].action;
  if (status === 410) return 'invalidate-token';
  if (status === 403) return 'credentials';
  if (status === 429 || status >= 500) return 'retry';
  return 'reject';
}
