import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { handleAppApiStream } from './app-api-stream.ts';
import { fail } from './broadcast-common.ts';
import type { Connection } from './connection.ts';
import type { SimContext } from './sim-context.ts';
import { single } from './stream-body.ts';
import { validateChannelRequest } from './validate-channel-request.ts';

/** APNs names the one channel push type this way in its bodies (docs/apns-protocol.md §F.3). */
const CHANNEL_PUSH_TYPE = 'LiveActivity';

/**
 * One request on the channel-management port (§F.3): create → 201 + apns-channel-id, read → 200
 * `{"message-storage-policy","push-type"}`, delete → 204, list → 200 `{"channels":[…]}`.
 */
export function handleChannelStream(
  ctx: SimContext,
  conn: Connection,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): void {
  handleAppApiStream(ctx, conn, stream, headers, 'channels', ctx.stats.channels, ({ body, length }) => {
    const now = ctx.now();
    const verdict = validateChannelRequest(
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
        now,
        tokenUpdateMinIntervalMs: ctx.settings.tokenUpdateMinIntervalMs,
      },
    );
    if (!verdict.ok) return verdict;
    const { action } = verdict;
    switch (action.kind) {
      case 'create': {
        const channel = ctx.channels.create(action.bundleId, action.storagePolicy, now);
        // The per-app limit (§F.3): Apple's reason for it is CannotCreateChannelConfig.
        if (!channel) return { ok: false, rejection: fail('CannotCreateChannelConfig'), authenticated: true };
        return { ok: true, status: 201, headers: { 'apns-channel-id': channel.id } };
      }
      case 'read':
        return {
          ok: true,
          status: 200,
          json: { 'message-storage-policy': action.channel.storagePolicy, 'push-type': CHANNEL_PUSH_TYPE },
        };
      case 'delete':
        ctx.channels.delete(action.channel, now);
        return { ok: true, status: 204 };
      case 'list':
        return { ok: true, status: 200, json: { channels: ctx.channels.listActive(action.bundleId) } };
    }
  });
}
