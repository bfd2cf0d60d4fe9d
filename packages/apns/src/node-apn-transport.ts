import apn from '@parse/node-apn';
import type { PreparedNotification } from '@pushfleet/core';
import {
  apnsHosts,
  type PushTransport,
  poolSizeOf,
  type SendResult,
  type TransportTarget,
} from './transport.ts';

interface NodeApnFailure {
  device: string;
  status?: number;
  response?: { reason?: string; timestamp?: number };
  error?: Error;
}

/** node-apn reports some rejections as errors whose message is the reason; recover it. */
const reasonFromErrorByStatus: Record<number, string> = {
  403: 'ExpiredProviderToken',
  500: 'InternalServerError',
};

export function toSendResult(failure: NodeApnFailure): SendResult {
  if (typeof failure.status === 'number' && failure.status >= 400) {
    const reason =
      failure.response?.reason ?? reasonFromErrorByStatus[failure.status] ?? `HTTP${failure.status}`;
    const result: SendResult = { kind: 'rejected', status: failure.status, reason };
    if (failure.response?.timestamp !== undefined) result.invalidAt = Number(failure.response.timestamp);
    return result;
  }
  return { kind: 'failed', error: failure.error?.message ?? 'unknown transport error' };
}

function buildNote(prepared: PreparedNotification): apn.Notification {
  const note = new apn.Notification();
  // node-apn serialises rawPayload with JSON.stringify, which reproduces our bytes exactly.
  note.rawPayload = JSON.parse(prepared.payload);
  const h = prepared.headers;
  note.topic = h['apns-topic'];
  // node-apn's type list lags Apple's (no `controls`); the header value passes through as is.
  note.pushType = h['apns-push-type'] as apn.Notification['pushType'];
  note.priority = h['apns-priority'] === undefined ? 10 : Number(h['apns-priority']);
  if (h['apns-expiration'] !== undefined) note.expiry = Number(h['apns-expiration']);
  if (h['apns-collapse-id'] !== undefined) note.collapseId = h['apns-collapse-id'];
  if (h['apns-id'] !== undefined) note.id = h['apns-id'];
  return note;
}

/**
 * Transport on @parse/node-apn. Its traps are handled here: `connectionRetryLimit: 0` (its own
 * retries ignore Retry-After and hide re-sends), and tokens are sent in windows no larger than
 * the in-flight cap, because node-apn opens one stream per token with no limit.
 */
export function createNodeApnTransport(target: TransportTarget): PushTransport {
  const { credentials, endpoint } = target;
  const options: Record<string, unknown> = {
    production: target.environment === 'production',
    connectionRetryLimit: 0,
    requestTimeout: target.requestTimeoutMs,
    clientCount: poolSizeOf(target).max,
    // A bare host name plus `port`: a port inside `address` would be ignored for the default 443.
    address: endpoint?.host ?? apnsHosts[target.environment],
    port: endpoint?.port ?? 443,
  };
  if (endpoint?.caPem) options.ca = [endpoint.caPem];
  if (credentials.type === 'token') {
    options.token = { key: credentials.keyPem, keyId: credentials.keyId, teamId: credentials.teamId };
  } else {
    if (credentials.pfx) options.pfx = credentials.pfx;
    if (credentials.certPem) options.cert = credentials.certPem;
    if (credentials.keyPem) options.key = credentials.keyPem;
    if (credentials.passphrase) options.passphrase = credentials.passphrase;
  }
  const provider = new apn.MultiProvider(options as unknown as apn.MultiProviderOptions);
  const windowSize = target.maxInFlightPerConnection * poolSizeOf(target).max;

  return {
    async send(prepared, tokens) {
      const note = buildNote(prepared);
      const byToken = new Map<string, SendResult>();
      for (let i = 0; i < tokens.length; i += windowSize) {
        const { sent, failed } = await provider.send(note, tokens.slice(i, i + windowSize));
        for (const s of sent as { device: string; 'apns-id'?: string }[]) {
          byToken.set(s.device, { kind: 'accepted', apnsId: s['apns-id'] });
        }
        for (const f of failed as NodeApnFailure[]) byToken.set(f.device, toSendResult(f));
      }
      return tokens.map((t) => byToken.get(t) ?? { kind: 'failed', error: 'no result from node-apn' });
    },
    async close() {
      await new Promise<void>((resolve) => provider.shutdown(() => resolve()));
    },
  } satisfies PushTransport;
}
