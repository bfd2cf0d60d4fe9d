import { randomUUID } from 'node:crypto';
import {
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { answerRequestId } from './broadcast-common.ts';
import {
  type Connection,
  noteAccepted,
  noteRejected,
  refusedByGoaway,
  resetConnection,
} from './connection.ts';
import type { Rejection } from './reasons.ts';
import type { SimContext } from './sim-context.ts';
import type { ApiCounters } from './stats.ts';
import { type ReceivedBody, readBody, single } from './stream-body.ts';

// Largest legal body on these endpoints is 5120; keep a little more so "too large" is measured exactly.
const MAX_KEPT_BODY = 8192;

/** What a broadcast or channel-management request is answered with. */
export type AppApiAnswer =
  | { ok: true; status: 200 | 201 | 204; headers?: Record<string, string>; json?: unknown }
  | { ok: false; rejection: Rejection; authenticated: boolean };

/**
 * The stream life cycle shared by broadcasts and channel management: read the body, apply
 * faults (target `broadcast` or `channels`, matched on apns-channel-id), let `process` decide,
 * answer. Every answer carries apns-request-id instead of apns-id (docs/apns-protocol.md §F.4).
 */
export function handleAppApiStream(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  target: 'broadcast' | 'channels',
  counters: ApiCounters,
  process: (received: ReceivedBody, requestId: string) => AppApiAnswer,
): void {
  counters.requests++;
  readBody(stream, MAX_KEPT_BODY, (received) => {
    const fault = ctx.faults.forRequest({ target, channelId: single(headers['apns-channel-id']) });
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
      // Decided before anything is stored: a refused stream was never processed.
      if (refusedByGoaway(conn, stream)) return;
      const requestId = answerRequestId(headers, randomUUID);
      const answer: AppApiAnswer = fault.rejection
        ? { ok: false, rejection: fault.rejection, authenticated: false }
        : process(received, requestId);
      if (answer.ok) {
        const out: OutgoingHttpHeaders = {
          ':status': answer.status,
          'apns-request-id': requestId,
          ...answer.headers,
        };
        if (answer.json === undefined) stream.respond(out, { endStream: true });
        else {
          stream.respond({ ...out, 'content-type': 'application/json' });
          stream.end(JSON.stringify(answer.json));
        }
        counters.accepted++;
        noteAccepted(ctx, conn);
        return;
      }
      const { rejection } = answer;
      const out: OutgoingHttpHeaders = {
        ':status': rejection.status,
        'apns-request-id': requestId,
        'content-type': 'application/json',
      };
      if (rejection.retryAfter !== undefined) out['retry-after'] = String(rejection.retryAfter);
      const body: { reason: string; timestamp?: number } = { reason: rejection.reason };
      if (rejection.status === 410) body.timestamp = rejection.timestamp ?? ctx.now();
      stream.respond(out);
      stream.end(JSON.stringify(body));
      counters.reject(rejection.reason);
      noteRejected(ctx, conn, rejection.status, answer.authenticated);
    };
    if (fault.latencyMs > 0) setTimeout(decide, fault.latencyMs);
    else decide();
  });
}
