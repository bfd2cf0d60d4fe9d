import {
  bundleIdOf,
  isPushType,
  type PushType,
  pushTypeRules,
  tokenOnlyPushTypes,
  topicMatchesPushType,
} from './push-types.ts';
import { type Rejection, reject } from './reasons.ts';
import type { Environment, Registry } from './registry.ts';
import { authenticateToken, type TokenConnectionState } from './token-auth.ts';

/** How a connection authenticates: decided once, from the TLS handshake. */
export type ConnectionAuth =
  | { kind: 'token'; state: TokenConnectionState }
  | { kind: 'cert'; trusted: boolean; topics: string[]; environment: Environment | 'both' };

export interface ProviderRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Alternating names and values as received, to catch repeated headers. */
  rawHeaders: string[];
  body: Buffer;
  /** Bytes received, which may exceed body.length when the body was too large to keep. */
  bodyLength: number;
}

export interface ValidationContext {
  registry: Registry;
  environment: Environment;
  now: number;
  /** 'any' accepts every even-length hex token of 2 to 200 characters. */
  tokenLength: number | 'any';
  strictDevices: boolean;
  tokenUpdateMinIntervalMs: number;
}

export type Verdict =
  | { ok: true; token: string; topic: string; pushType: PushType; authenticated: true }
  | { ok: false; rejection: Rejection; token: string | undefined; authenticated: boolean };

/** Headers APNs documents; repeating any of them is DuplicateHeaders (§A.3). */
const documentedHeaders = new Set([
  'authorization',
  'apns-push-type',
  'apns-id',
  'apns-expiration',
  'apns-priority',
  'apns-topic',
  'apns-collapse-id',
]);

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const topicShape = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const hex = /^[0-9a-fA-F]+$/;

function hasDuplicates(rawHeaders: string[]): boolean {
  const seen = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!documentedHeaders.has(name)) continue;
    if (seen.has(name)) return true;
    seen.add(name);
  }
  return false;
}

function header(req: ProviderRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function tokenShapeOk(token: string, tokenLength: number | 'any'): boolean {
  if (!hex.test(token) || token.length % 2 !== 0) return false;
  return tokenLength === 'any' ? token.length >= 2 && token.length <= 200 : token.length === tokenLength;
}

/**
 * Validates one POST /3/device request as APNs would. Apple does not document its order;
 * this one is pushy's mock order (docs/apns-protocol.md §G.1) with authentication moved before
 * any device lookup, so an unauthenticated client cannot probe token state.
 */
export function validateRequest(req: ProviderRequest, auth: ConnectionAuth, ctx: ValidationContext): Verdict {
  let token: string | undefined;
  let authenticated = false;
  const fail = (rejection: Rejection): Verdict => ({ ok: false, rejection, token, authenticated });

  if (hasDuplicates(req.rawHeaders)) return fail(reject('DuplicateHeaders'));
  const apnsId = header(req, 'apns-id');
  if (apnsId !== undefined && !uuid.test(apnsId)) return fail(reject('BadMessageId'));
  if (req.method !== 'POST') return fail(reject('MethodNotAllowed'));

  const path = req.path.split('?')[0]!;
  if (!path.startsWith('/3/device/')) return fail(reject('BadPath'));
  const rawToken = path.slice('/3/device/'.length);
  if (rawToken === '') return fail(reject('MissingDeviceToken'));
  if (rawToken.includes('/')) return fail(reject('BadPath'));
  token = rawToken.toLowerCase();

  let topic = header(req, 'apns-topic');
  if (topic === undefined || topic === '') {
    // A single-topic certificate lets APNs infer the topic (§A.3); nothing else does.
    if (auth.kind === 'cert' && auth.topics.length === 1) topic = auth.topics[0]!;
    else return fail(reject('MissingTopic'));
  }

  const collapseId = header(req, 'apns-collapse-id');
  if (collapseId !== undefined && Buffer.byteLength(collapseId, 'utf8') > 64)
    return fail(reject('BadCollapseId'));
  const priority = header(req, 'apns-priority');
  if (priority !== undefined && priority !== '10' && priority !== '5' && priority !== '1') {
    return fail(reject('BadPriority'));
  }
  const pushTypeHeader = header(req, 'apns-push-type');
  if (pushTypeHeader !== undefined && !isPushType(pushTypeHeader)) return fail(reject('InvalidPushType'));
  // Absent push type: APNs treats the push as an alert (it is only mandatory on watchOS).
  const pushType: PushType = (pushTypeHeader as PushType | undefined) ?? 'alert';
  // "Always priority 5 ... priority 10 is an error" for background pushes (§A.4).
  if (pushType === 'background' && (priority ?? '10') === '10') return fail(reject('BadPriority'));
  const expiration = header(req, 'apns-expiration');
  if (expiration !== undefined && !/^\d{1,12}$/.test(expiration)) return fail(reject('BadExpirationDate'));

  if (auth.kind === 'cert') {
    if (!auth.trusted) return fail(reject('BadCertificate'));
    if (auth.environment !== 'both' && auth.environment !== ctx.environment) {
      return fail(reject('BadCertificateEnvironment'));
    }
    if (!auth.topics.includes(topic) || tokenOnlyPushTypes.has(pushType)) return fail(reject('BadTopic'));
  } else {
    const denied = authenticateToken(
      header(req, 'authorization'),
      topic,
      auth.state,
      ctx.registry,
      ctx.environment,
      ctx.now,
      ctx.tokenUpdateMinIntervalMs,
    );
    if (denied) return fail(denied);
  }
  authenticated = true;

  if (!topicShape.test(topic) || !topicMatchesPushType(topic, pushType)) return fail(reject('BadTopic'));
  if (!tokenShapeOk(rawToken, ctx.tokenLength)) return fail(reject('BadDeviceToken'));

  const device = ctx.registry.devices.get(token);
  if (device) {
    // Sandbox and production tokens differ; the wrong environment's token is BadDeviceToken (§A.6).
    if (device.environment !== ctx.environment) return fail(reject('BadDeviceToken'));
    if (device.bundleId !== bundleIdOf(topic) && pushType !== 'mdm')
      return fail(reject('DeviceTokenNotForTopic'));
    if (device.invalid) return fail(reject(device.invalid.reason, { timestamp: device.invalid.timestamp }));
  } else if (ctx.strictDevices) {
    return fail(reject('BadDeviceToken'));
  }

  if (req.bodyLength === 0) return fail(reject('PayloadEmpty'));
  if (req.bodyLength > pushTypeRules[pushType].maxPayload) return fail(reject('PayloadTooLarge'));

  return { ok: true, token, topic, pushType, authenticated: true };
}
