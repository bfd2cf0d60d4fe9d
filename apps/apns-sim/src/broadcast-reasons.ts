import type { Rejection } from './reasons.ts';

/**
 * Every status and reason APNs documents for broadcast pushes and channel management
 * (docs/apns-protocol.md §F.4). Apart from the device-push table on purpose: Apple lists a
 * different set here, and errors on these endpoints carry `apns-request-id`, not `apns-id`.
 *
 * Apple's page writes the 503 reason as "Service Unavailable" (with a space); the simulator sends
 * `ServiceUnavailable` like the device API, and a fault can send the spaced form (README "Faults").
 */
export const broadcastReasonStatus = {
  FeatureNotEnabled: 400,
  MissingChannelId: 400,
  BadChannelId: 400,
  ChannelNotRegistered: 400,
  BadRequestParams: 400,
  BadRequestPayload: 400,
  PayloadEmpty: 400,
  BadMessageId: 400,
  MissingPushType: 400,
  InvalidPushType: 400,
  CannotCreateChannelConfig: 400,
  BadExpirationDate: 400,
  TopicDisallowed: 400,
  BadPriority: 400,
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  TopicMismatch: 403,
  MissingProviderToken: 403,
  ExpiredProviderToken: 403,
  InvalidProviderToken: 403,
  BadPath: 404,
  MethodNotAllowed: 405,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  TooManyProviderTokenUpdates: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
} as const;

export type BroadcastReason = keyof typeof broadcastReasonStatus;

export function isBroadcastReason(value: string): value is BroadcastReason {
  return Object.hasOwn(broadcastReasonStatus, value);
}

export function rejectBroadcast(reason: BroadcastReason): Rejection {
  return { status: broadcastReasonStatus[reason], reason };
}
