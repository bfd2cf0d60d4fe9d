import { randomUUID } from 'node:crypto';
import {
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import {
  type Connection,
  noteAccepted,
  noteRejected,
  refusedByGoaway,
  resetConnection,
} from './connection.ts';
import type { Rejection } from './reasons.ts';
import type { SimContext } from './sim-context.ts';
import { parsedOrText, readBody, single } from './stream-body.ts';
import { validateRequest } from './validate-request.ts';

// Largest legal body is 5120 (voip); keep a little more so "too large" is still measured exactly.
const MAX_KEPT_BODY = 8192;

/** Headers recorded with each delivery (authorization is deliberately left out). */
const recordedHeaders = [
  'apns-id',
  'apns-push-type',
  'apns-expiration',
  'apns-priority',
  'apns-topic',
  'apns-collapse-id',
] as const;

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tokenOf(path: string | undefined): string | undefined {
  if (!path?.startsWith('/3/device/')) return undefined;
  const token = path.slice('/3/device/'.length).split('?')[0]!;
  return token === '' ? undefined : token.toLowerCase();
}

/** Handles one stream in validating mode: read the body, apply faults, validate, answer. */
export function handleValidatingStream(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: string[],
): void {
  readBody(stream, MAX_KEPT_BODY, ({ body, length }) => {
    const token = tokenOf(single(headers[':path']));
    const fault = ctx.faults.forRequest({ target: 'device', token });
    const decide = (): void => {
      if (stream.closed || stream.destroyed) return;
      if (fault.reset === 'connection') {
        resetConnection(conn, ctx);
        return;
      }
      if (fault.reset === 'stream') {
        ctx.stats.resets++;
        stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      const requestId = single(headers['apns-id']);
      if (fault.rejection) {
        respondRejected(ctx, conn, stream, requestId, fault.rejection, false);
        return;
      }
      const verdict = validateRequest(
        {
          method: single(headers[':method']) ?? '',
          path: single(headers[':path']) ?? '',
          headers,
          rawHeaders,
          body,
          bodyLength: length,
        },
        conn.auth,
        {
          registry: ctx.registry,
          environment: ctx.settings.environment,
          now: ctx.now(),
          tokenLength: ctx.settings.tokenLength,
          strictDevices: ctx.settings.strictDevices,
          tokenUpdateMinIntervalMs: ctx.settings.tokenUpdateMinIntervalMs,
        },
      );
      if (verdict.ok) respondAccepted(ctx, conn, stream, headers, verdict.token, requestId, body);
      else respondRejected(ctx, conn, stream, requestId, verdict.rejection, verdict.authenticated);
    };
    if (fault.latencyMs > 0) setTimeout(decide, fault.latencyMs);
    else decide();
  });
}

function respondAccepted(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  token: string,
  requestId: string | undefined,
  body: Buffer,
): void {
  if (refusedByGoaway(conn, stream)) return;
  const apnsId = requestId ?? randomUUID();
  const out: OutgoingHttpHeaders = { ':status': 200, 'apns-id': apnsId };
  // apns-unique-id identifies the push in Apple's delivery log, which exists only in development.
  if (ctx.settings.environment === 'sandbox') out['apns-unique-id'] = randomUUID();
  stream.respond(out, { endStream: true });

  ctx.stats.accepted++;
  const keyId = conn.auth.kind === 'token' ? conn.auth.state.currentKey?.keyId : undefined;
  if (keyId !== undefined) ctx.stats.acceptedByKey[keyId] = (ctx.stats.acceptedByKey[keyId] ?? 0) + 1;
  const kept: Record<string, string> = {};
  for (const name of recordedHeaders) {
    const value = single(headers[name]);
    if (value !== undefined) kept[name] = value;
  }
  kept['apns-id'] = apnsId;
  const text = body.toString('utf8');
  ctx.deliveries.record(
    token,
    { apnsId, headers: kept, payload: parsedOrText(text), body: text, receivedAt: ctx.now(), via: 'h2' },
    body,
    requestId,
  );

  noteAccepted(ctx, conn);
}

function respondRejected(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  requestId: string | undefined,
  rejection: Rejection,
  authenticated: boolean,
): void {
  if (refusedByGoaway(conn, stream)) return;
  const out: OutgoingHttpHeaders = {
    ':status': rejection.status,
    // Every response carries apns-id: the request's, or a fresh one when it was absent or unparseable.
    'apns-id': requestId !== undefined && uuidShape.test(requestId) ? requestId : randomUUID(),
    'content-type': 'application/json',
  };
  if (rejection.retryAfter !== undefined) out['retry-after'] = String(rejection.retryAfter);
  const body: { reason: string; timestamp?: number } = { reason: rejection.reason };
  if (rejection.status === 410) body.timestamp = rejection.timestamp ?? ctx.now();
  stream.respond(out);
  stream.end(JSON.stringify(body));

  ctx.stats.reject(rejection.reason);
  noteRejected(ctx, conn, rejection.status, authenticated);
}
