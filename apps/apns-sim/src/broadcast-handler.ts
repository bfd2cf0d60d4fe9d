import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { handleAppApiStream } from './app-api-stream.ts';
import { header } from './broadcast-common.ts';
import type { Connection } from './connection.ts';
import type { SimContext } from './sim-context.ts';
import { single } from './stream-body.ts';
import { validateBroadcast } from './validate-broadcast.ts';

/** Request headers recorded with each broadcast (authorization is deliberately left out). */
const recordedHeaders = [
  'apns-request-id',
  'apns-channel-id',
  'apns-push-type',
  'apns-priority',
  'apns-expiration',
  'apns-id',
  'apns-topic',
  'apns-collapse-id',
] as const;

/**
 * `POST /4/broadcasts/apps/<bundleId>` on the provider port (docs/apns-protocol.md §F.2): 200 with
 * apns-request-id and apns-unique-id, and the broadcast recorded under its channel.
 */
export function handleBroadcastStream(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): void {
  handleAppApiStream(
    ctx,
    conn,
    stream,
    headers,
    'broadcast',
    ctx.stats.broadcasts,
    ({ body, length }, requestId) => {
      const verdict = validateBroadcast(
        {
          method: single(headers[':method']) ?? '',
          path: single(headers[':path']) ?? '',
          headers,
          body,
          bodyLength: length,
        },
        conn.auth,
        ctx.channels,
        {
          registry: ctx.registry,
          environment: ctx.settings.environment,
          now: ctx.now(),
          tokenUpdateMinIntervalMs: ctx.settings.tokenUpdateMinIntervalMs,
        },
      );
      if (!verdict.ok) return verdict;
      // Unlike a device push's, a broadcast's apns-unique-id is not documented as development-only.
      const uniqueId = randomUUID();
      const kept: Record<string, string> = {};
      for (const name of recordedHeaders) {
        const value = header(headers, name);
        if (value !== undefined) kept[name] = value;
      }
      kept['apns-request-id'] = requestId;
      ctx.channels.recordBroadcast(verdict.channel, {
        requestId,
        uniqueId,
        headers: kept,
        payload: verdict.payload,
        body: body.toString('utf8'),
        receivedAt: ctx.now(),
      });
      return { ok: true, status: 200, headers: { 'apns-unique-id': uniqueId } };
    },
  );
}
