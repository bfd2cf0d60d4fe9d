import { type BroadcastReason, rejectBroadcast } from './broadcast-reasons.ts';
import { suffixOf } from './push-types.ts';
import type { Rejection } from './reasons.ts';
import type { Environment, Registry } from './registry.ts';
import { authenticateToken } from './token-auth.ts';
import type { ConnectionAuth } from './validate-request.ts';

/** What the broadcast and channel-management checks need from the simulator. */
export interface AppRequestContext {
  registry: Registry;
  environment: Environment;
  now: number;
  tokenUpdateMinIntervalMs: number;
}

export type HeaderMap = Record<string, string | string[] | undefined>;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const bundleIdShape = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// Standard base64 with padding: what APNs hands out in apns-channel-id (§F.3).
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/**
 * Apple says not to assume a channel-id length but rejects ids "greater than the allowed length"
 * (BadChannelId) without giving it; the simulator's ids are 24 characters and it allows 128.
 */
export const MAX_CHANNEL_ID_LENGTH = 128;

/** First value of a header (a repeated header is not an error on these endpoints). */
export function header(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isUuid(value: string): boolean {
  return uuid.test(value);
}

export function fail(reason: BroadcastReason): Rejection {
  return rejectBroadcast(reason);
}

/**
 * apns-request-id (and apns-id, which Apple's broadcast example also sends) must be UUIDs;
 * Apple's one reason for a bad identifier here is BadMessageId.
 */
export function checkRequestIds(headers: HeaderMap): Rejection | undefined {
  for (const name of ['apns-request-id', 'apns-id']) {
    const value = header(headers, name);
    if (value !== undefined && !isUuid(value)) return fail('BadMessageId');
  }
  return undefined;
}

/** The apns-request-id to answer with: the request's when it is a UUID, else a fresh one. */
export function answerRequestId(headers: HeaderMap, fresh: () => string): string {
  const value = header(headers, 'apns-request-id');
  return value !== undefined && isUuid(value) ? value : fresh();
}

/** A bundle id from the path: BadPath when malformed, TopicDisallowed with a push-type suffix. */
export function checkBundleId(bundleId: string): Rejection | undefined {
  if (!bundleIdShape.test(bundleId)) return fail('BadPath');
  // "Ensure that no push type suffix is added to the bundle ID" (§F.2, §F.4).
  if (suffixOf(bundleId) !== '') return fail('TopicDisallowed');
  return undefined;
}

/** MissingChannelId / BadChannelId for the apns-channel-id header. */
export function checkChannelId(headers: HeaderMap): { channelId: string } | { rejection: Rejection } {
  const channelId = header(headers, 'apns-channel-id');
  if (channelId === undefined || channelId === '') return { rejection: fail('MissingChannelId') };
  if (channelId.length > MAX_CHANNEL_ID_LENGTH || !base64.test(channelId)) {
    return { rejection: fail('BadChannelId') };
  }
  return { channelId };
}

/**
 * Apple spells the one push type `LiveActivity`, `Liveactivity` and `liveactivity` on different
 * pages (§F.2), so any capitalisation of it is accepted.
 */
export function isLiveActivityPushType(value: string): boolean {
  return value.toLowerCase() === 'liveactivity';
}

/**
 * Authenticates a broadcast or channel request for `bundleId`, by certificate or token like the
 * device API, but answering only with the reasons Apple lists for these endpoints (§F.4):
 * a certificate or topic key that does not cover the app is TopicMismatch, and the key-binding
 * and key-environment failures that have their own reasons on the device API (not listed here)
 * are InvalidProviderToken.
 */
export function authenticateForApp(
  auth: ConnectionAuth,
  authorization: string | undefined,
  bundleId: string,
  ctx: AppRequestContext,
): Rejection | undefined {
  if (auth.kind === 'cert') {
    if (!auth.trusted) return fail('BadCertificate');
    if (auth.environment !== 'both' && auth.environment !== ctx.environment) {
      return fail('BadCertificateEnvironment');
    }
    if (!auth.topics.includes(bundleId)) return fail('TopicMismatch');
    return undefined;
  }
  const denied = authenticateToken(
    authorization,
    bundleId,
    auth.state,
    ctx.registry,
    ctx.environment,
    ctx.now,
    ctx.tokenUpdateMinIntervalMs,
    fail('TopicMismatch'),
  );
  if (denied?.reason === 'BadEnvironmentKeyIdInToken' || denied?.reason === 'UnrelatedKeyIdInToken') {
    return fail('InvalidProviderToken');
  }
  return denied;
}
