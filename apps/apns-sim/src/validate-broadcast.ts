import {
  type AppRequestContext,
  authenticateForApp,
  checkBundleId,
  checkChannelId,
  checkRequestIds,
  fail,
  type HeaderMap,
  header,
  isLiveActivityPushType,
} from './broadcast-common.ts';
import type { Channel, ChannelStore } from './channels.ts';
import type { Rejection } from './reasons.ts';
import type { ConnectionAuth } from './validate-request.ts';

/** Broadcast bodies may be up to 5120 bytes (docs/apns-protocol.md §A.5, §F.2). */
export const BROADCAST_MAX_PAYLOAD = 5120;

export const BROADCAST_PATH_PREFIX = '/4/broadcasts/apps/';

export interface BroadcastRequest {
  method: string;
  path: string;
  headers: HeaderMap;
  body: Buffer;
  /** Bytes received, which may exceed body.length when the body was too large to keep. */
  bodyLength: number;
}

export type BroadcastVerdict =
  | { ok: true; channel: Channel; payload: unknown }
  | { ok: false; rejection: Rejection; authenticated: boolean };

/** Whether a provider-port path is a broadcast (everything under /4/broadcasts goes here). */
export function isBroadcastPath(path: string): boolean {
  return path === '/4/broadcasts' || path.startsWith('/4/broadcasts/');
}

/**
 * Validates one `POST /4/broadcasts/apps/<bundleId>` (§F.2). Apple documents no order; this one
 * mirrors the device API: request shape and headers, then authentication, then app and channel
 * state, then the body.
 */
export function validateBroadcast(
  req: BroadcastRequest,
  auth: ConnectionAuth,
  channels: ChannelStore,
  ctx: AppRequestContext,
): BroadcastVerdict {
  let authenticated = false;
  const no = (rejection: Rejection): BroadcastVerdict => ({ ok: false, rejection, authenticated });

  const ids = checkRequestIds(req.headers);
  if (ids) return no(ids);
  if (req.method !== 'POST') return no(fail('MethodNotAllowed'));
  const path = req.path.split('?')[0]!;
  if (!path.startsWith(BROADCAST_PATH_PREFIX)) return no(fail('BadPath'));
  const bundleId = path.slice(BROADCAST_PATH_PREFIX.length);
  if (bundleId === '' || bundleId.includes('/')) return no(fail('BadPath'));
  const badBundle = checkBundleId(bundleId);
  if (badBundle) return no(badBundle);

  const pushType = header(req.headers, 'apns-push-type');
  if (pushType === undefined || pushType === '') return no(fail('MissingPushType'));
  if (!isLiveActivityPushType(pushType)) return no(fail('InvalidPushType'));
  const channelCheck = checkChannelId(req.headers);
  if ('rejection' in channelCheck) return no(channelCheck.rejection);
  // apns-priority and apns-expiration are required here (§F.2); absent counts as invalid.
  const priority = header(req.headers, 'apns-priority');
  if (priority !== '10' && priority !== '5' && priority !== '1') return no(fail('BadPriority'));
  const expiration = header(req.headers, 'apns-expiration');
  if (expiration === undefined || !/^\d{1,12}$/.test(expiration)) return no(fail('BadExpirationDate'));

  const denied = authenticateForApp(auth, header(req.headers, 'authorization'), bundleId, ctx);
  if (denied) return no(denied);
  authenticated = true;

  if (!channels.broadcastEnabled(bundleId)) return no(fail('FeatureNotEnabled'));
  const channel = channels.activeChannel(bundleId, channelCheck.channelId);
  if (!channel) return no(fail('ChannelNotRegistered'));
  // "Providing a nonzero expiration for a channel created with the No Message Stored storage
  // policy results in message rejection" (§F.2); Apple's reason for it is BadExpirationDate.
  if (channel.storagePolicy === 0 && Number(expiration) !== 0) return no(fail('BadExpirationDate'));

  if (req.bodyLength === 0) return no(fail('PayloadEmpty'));
  if (req.bodyLength > BROADCAST_MAX_PAYLOAD) return no(fail('PayloadTooLarge'));
  let payload: unknown;
  try {
    payload = JSON.parse(req.body.toString('utf8'));
  } catch {
    return no(fail('BadRequestPayload'));
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return no(fail('BadRequestPayload'));
  }
  return { ok: true, channel, payload };
}
