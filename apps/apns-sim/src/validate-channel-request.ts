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
import type { Channel, ChannelStore, StoragePolicy } from './channels.ts';
import type { Rejection } from './reasons.ts';
import type { ConnectionAuth } from './validate-request.ts';

/**
 * Apple gives no size limit for a channel-creation body; the simulator uses the broadcast
 * limit (a valid body is about 55 bytes).
 */
export const CHANNEL_MAX_BODY = 5120;

export interface ChannelRequest {
  method: string;
  path: string;
  headers: HeaderMap;
  body: Buffer;
  bodyLength: number;
}

/** What a valid channel-management request asks for (§F.3). */
export type ChannelAction =
  | { kind: 'create'; bundleId: string; storagePolicy: StoragePolicy }
  | { kind: 'read'; bundleId: string; channel: Channel }
  | { kind: 'delete'; bundleId: string; channel: Channel }
  | { kind: 'list'; bundleId: string };

export type ChannelVerdict =
  | { ok: true; action: ChannelAction }
  | { ok: false; rejection: Rejection; authenticated: boolean };

const channelsPath = /^\/1\/apps\/([^/]*)\/(channels|all-channels)$/;
const createKeys = new Set(['message-storage-policy', 'push-type']);

/**
 * Validates one request to the channel-management API: `POST|GET|DELETE /1/apps/<bundleId>/channels`
 * and `GET /1/apps/<bundleId>/all-channels`. Apple documents no order; like the device API:
 * request shape and headers, authentication, app state, body, then the channel itself.
 */
export function validateChannelRequest(
  req: ChannelRequest,
  auth: ConnectionAuth,
  channels: ChannelStore,
  ctx: AppRequestContext,
): ChannelVerdict {
  let authenticated = false;
  const no = (rejection: Rejection): ChannelVerdict => ({ ok: false, rejection, authenticated });

  const ids = checkRequestIds(req.headers);
  if (ids) return no(ids);
  const match = channelsPath.exec(req.path.split('?')[0]!);
  if (!match || match[1] === '') return no(fail('BadPath'));
  const bundleId = match[1]!;
  const kind = actionOf(match[2] === 'all-channels', req.method);
  if (kind === undefined) return no(fail('MethodNotAllowed'));
  const badBundle = checkBundleId(bundleId);
  if (badBundle) return no(badBundle);
  let channelId: string | undefined;
  if (kind === 'read' || kind === 'delete') {
    const checked = checkChannelId(req.headers);
    if ('rejection' in checked) return no(checked.rejection);
    channelId = checked.channelId;
  }

  const denied = authenticateForApp(auth, header(req.headers, 'authorization'), bundleId, ctx);
  if (denied) return no(denied);
  authenticated = true;
  if (!channels.broadcastEnabled(bundleId)) return no(fail('FeatureNotEnabled'));

  if (kind === 'list') return { ok: true, action: { kind, bundleId } };
  if (kind === 'create') {
    const parsed = parseCreateBody(req);
    if ('rejection' in parsed) return no(parsed.rejection);
    return { ok: true, action: { kind, bundleId, storagePolicy: parsed.storagePolicy } };
  }
  const channel = channels.activeChannel(bundleId, channelId!);
  if (!channel) return no(fail('ChannelNotRegistered'));
  return { ok: true, action: { kind, bundleId, channel } };
}

function actionOf(allChannels: boolean, method: string): ChannelAction['kind'] | undefined {
  if (allChannels) return method === 'GET' ? 'list' : undefined;
  if (method === 'POST') return 'create';
  if (method === 'GET') return 'read';
  if (method === 'DELETE') return 'delete';
  return undefined;
}

/**
 * The creation body `{"message-storage-policy": 0|1, "push-type": "LiveActivity"}` (§F.3).
 * Apple: "unrecognizable attribute" is BadRequestParams, unparseable is BadRequestPayload; a
 * missing or non-0/1 policy is taken as BadRequestParams too (a string "1" included: Apple's
 * field is a number), a missing push type as MissingPushType.
 */
function parseCreateBody(req: ChannelRequest): { storagePolicy: StoragePolicy } | { rejection: Rejection } {
  if (req.bodyLength === 0) return { rejection: fail('PayloadEmpty') };
  if (req.bodyLength > CHANNEL_MAX_BODY) return { rejection: fail('PayloadTooLarge') };
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch {
    return { rejection: fail('BadRequestPayload') };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { rejection: fail('BadRequestPayload') };
  }
  const fields = body as Record<string, unknown>;
  if (Object.keys(fields).some((k) => !createKeys.has(k))) return { rejection: fail('BadRequestParams') };
  const policy = fields['message-storage-policy'];
  if (policy !== 0 && policy !== 1) return { rejection: fail('BadRequestParams') };
  const pushType = fields['push-type'];
  if (pushType === undefined) return { rejection: fail('MissingPushType') };
  if (typeof pushType !== 'string' || !isLiveActivityPushType(pushType)) {
    return { rejection: fail('InvalidPushType') };
  }
  return { storagePolicy: policy };
}
