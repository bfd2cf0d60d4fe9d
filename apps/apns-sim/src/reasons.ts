/**
 * Every documented status and reason of the HTTP/2 provider API (docs/apns-protocol.md §A.8, §A.9).
 * The simulator answers only with these, so a client's reason table can be checked against it.
 */
export const reasonStatus = {
  BadCollapseId: 400,
  BadDeviceToken: 400,
  BadExpirationDate: 400,
  BadMessageId: 400,
  BadPriority: 400,
  BadTopic: 400,
  DeviceTokenNotForTopic: 400,
  DuplicateHeaders: 400,
  IdleTimeout: 400,
  InvalidPushType: 400,
  MissingDeviceToken: 400,
  MissingTopic: 400,
  PayloadEmpty: 400,
  TopicDisallowed: 400,
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  ExpiredProviderToken: 403,
  Forbidden: 403,
  InvalidProviderToken: 403,
  MissingProviderToken: 403,
  UnrelatedKeyIdInToken: 403,
  BadEnvironmentKeyIdInToken: 403,
  BadPath: 404,
  MethodNotAllowed: 405,
  ExpiredToken: 410,
  Unregistered: 410,
  PayloadTooLarge: 413,
  TooManyProviderTokenUpdates: 429,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
} as const;

export type Reason = keyof typeof reasonStatus;

export function isReason(value: string): value is Reason {
  return Object.hasOwn(reasonStatus, value);
}

/** A rejection as a value: what the simulator answers instead of 200. */
export interface Rejection {
  status: number;
  reason: string;
  /** Milliseconds since the epoch; only on 410. */
  timestamp?: number;
  /** Seconds, sent as `retry-after`. */
  retryAfter?: number;
}

export function reject(reason: Reason, extra?: { timestamp?: number }): Rejection {
  const status = reasonStatus[reason];
  return extra?.timestamp !== undefined ? { status, reason, timestamp: extra.timestamp } : { status, reason };
}
