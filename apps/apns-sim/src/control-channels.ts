import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Channel } from './channels.ts';
import { HttpError, parse, readJson } from './control-http.ts';
import type { SimContext } from './sim-context.ts';

const seedBody = z
  .object({
    bundleId: z.string().min(1),
    messageStoragePolicy: z.union([z.literal(0), z.literal(1)]).optional(),
    count: z.number().int().positive().max(100_000).optional(),
  })
  .strict();
const capabilityBody = z.object({ bundleId: z.string().min(1), enabled: z.boolean() }).strict();

function describe(channel: Channel): Record<string, unknown> {
  return {
    channelId: channel.id,
    bundleId: channel.bundleId,
    messageStoragePolicy: channel.storagePolicy,
    createdAt: channel.createdAt,
    deletedAt: channel.deletedAt ?? null,
    broadcasts: channel.broadcasts.length,
  };
}

/**
 * Control routes for broadcast channels (README "Control API"): list channels, seed them,
 * read what was broadcast, switch an app's broadcast capability, forget everything.
 * Answers undefined for routes that are not its own.
 */
export async function channelRoute(
  ctx: SimContext,
  req: IncomingMessage,
  url: URL,
): Promise<[number, unknown] | undefined> {
  const { channels } = ctx;
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /channels': {
      const bundleId = url.searchParams.get('bundleId') ?? undefined;
      return [200, channels.all(bundleId).map(describe)];
    }
    case 'POST /channels': {
      const body = parse(seedBody, await readJson(req));
      const count = body.count ?? 1;
      const room = channels.limit - channels.listActive(body.bundleId).length;
      if (count > room) {
        throw new HttpError(
          409,
          `${body.bundleId} has room for ${room} more channels (limit ${channels.limit})`,
        );
      }
      const channelIds: string[] = [];
      for (let i = 0; i < count; i++) {
        channelIds.push(channels.create(body.bundleId, body.messageStoragePolicy ?? 1, ctx.now())!.id);
      }
      return [201, { channelIds }];
    }
    case 'DELETE /channels':
      channels.clear();
      return [200, { cleared: true }];
    case 'GET /broadcasts': {
      const channelId = url.searchParams.get('channelId');
      const bundleId = url.searchParams.get('bundleId');
      if (channelId) {
        const channel = channels.get(channelId);
        if (!channel) throw new HttpError(404, `no channel ${channelId} was ever created here`);
        return [200, channel.broadcasts.map((b) => ({ channelId, ...b }))];
      }
      if (bundleId) {
        const all = channels
          .all(bundleId)
          .flatMap((c) => c.broadcasts.map((b) => ({ channelId: c.id, ...b })));
        return [200, all.sort((a, b) => a.receivedAt - b.receivedAt)];
      }
      throw new HttpError(400, 'channelId or bundleId query parameter is required');
    }
    case 'POST /broadcast-capability': {
      const body = parse(capabilityBody, await readJson(req));
      channels.setBroadcastEnabled(body.bundleId, body.enabled);
      return [200, body];
    }
    default:
      return undefined;
  }
}
