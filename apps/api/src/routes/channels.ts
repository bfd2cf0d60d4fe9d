import {
  type ChannelFailure,
  type ChannelRecord,
  channelCreateRequestSchema,
  channelFailureError,
  channelNameSchema,
  type Environment,
  environments,
  PushfleetError,
  parseOrThrow,
  resolveEnvironment,
} from '@pushfleet/core';
import { ChannelStore } from '@pushfleet/store';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ChannelClients, ChannelPort } from '../channel-clients.ts';
import { type AppParams, appConfigOf, type RouteContext, sendableAppOf } from '../context.ts';
import { appParams, jsonResponse } from '../schema/common.ts';
import { appRoute, errorResponses, jsonBody } from '../schema/errors.ts';
import { channelListSchema, channelParams, channelSchema } from '../schema/live.ts';

type ChannelParams = AppParams & { channel: string };

/** Errors of a route that calls APNs' channel-management API. */
const apnsErrors = ['PF_ERR_APNS_REJECTED', 'PF_ERR_APNS_UNAVAILABLE'] as const;

export const channelView = (r: ChannelRecord) => ({
  name: r.name,
  channelId: r.channelId,
  environment: r.environment,
  messageStoragePolicy: r.storagePolicy,
  metadata: r.metadata,
  createdAt: new Date(r.createdAt).toISOString(),
});

/** A channel name from the path: the store's keys and APNs never see anything else. */
export function channelNameOf(raw: string): string {
  const parsed = channelNameSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PushfleetError('PF_ERR_VALIDATION', `channel: ${parsed.error.issues[0]!.message}`, {
      field: 'channel',
    });
  }
  return parsed.data;
}

/**
 * Broadcast channels (docs/apns-protocol.md §F.3). The API calls APNs' channel-management API
 * itself (`ChannelClients`): a channel is made, read and deleted at APNs synchronously, and
 * Pushfleet keeps each under the producer's name with its environment, storage policy and
 * metadata (`ChannelStore`), so producers address channels by their own key.
 */
export function registerChannelRoutes(
  api: FastifyInstance,
  ctx: RouteContext,
  clients: ChannelClients,
): void {
  const store = new ChannelStore(ctx.redis, ctx.prefix);

  const clientFor = async (app: string, environment: Environment): Promise<ChannelPort> => {
    try {
      return await clients.get(app, environment);
    } catch (err) {
      throw channelFailureError({ kind: 'failed', error: (err as Error).message, credentials: true });
    }
  };
  /** A refusal as the API's error; APNs' Retry-After is passed on. */
  const refused = (reply: FastifyReply, failure: ChannelFailure): PushfleetError => {
    if (failure.kind === 'rejected' && failure.retryAfter !== undefined) {
      void reply.header('retry-after', String(failure.retryAfter));
    }
    return channelFailureError(failure);
  };
  const known = async (app: string, name: string): Promise<ChannelRecord> => {
    appConfigOf(ctx, app);
    const record = await store.get(app, channelNameOf(name));
    if (!record) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such channel', { field: 'channel' });
    return record;
  };

  api.post<{ Params: AppParams }>(
    '/v1/apps/:app/channels',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['channels'],
        operationId: 'createChannel',
        summary: 'Create a broadcast channel',
        description:
          'Creates the channel at APNs (channel-management API, called by the api itself) and keeps it under ' +
          'your name. APNs allows 10,000 channels per app and environment: past that, `PF_ERR_CHANNEL_LIMIT` ' +
          '(delete channels you no longer broadcast to).',
        params: appParams,
        body: channelCreateRequestSchema,
        response: {
          201: jsonResponse('Created', channelSchema),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            ...apnsErrors,
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_CHANNEL_EXISTS',
            'PF_ERR_CHANNEL_LIMIT',
            'PF_ERR_APP_DISABLED',
          ),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const config = sendableAppOf(ctx, app);
      const body = parseOrThrow(channelCreateRequestSchema, request.body);
      const environment = resolveEnvironment(config, body.environment);
      const exists = () => new PushfleetError('PF_ERR_CHANNEL_EXISTS', undefined, { field: 'name' });
      // Checked first so a taken name costs no channel at APNs (add() checks again, atomically).
      if (await store.get(app, body.name)) throw exists();
      const client = await clientFor(app, environment);
      const created = await client.create(config.bundleId, body.messageStoragePolicy);
      if (created.kind !== 'ok') throw refused(reply, created);
      const record: ChannelRecord = {
        name: body.name,
        channelId: created.channelId,
        environment,
        storagePolicy: body.messageStoragePolicy,
        metadata: body.metadata ?? {},
        createdAt: ctx.now(),
      };
      let added: Awaited<ReturnType<ChannelStore['add']>>;
      try {
        added = await store.add(app, record);
      } catch (err) {
        // Not stored (Redis away): a channel nobody can name would only count against the limit.
        await client.delete(config.bundleId, created.channelId);
        throw err;
      }
      if (added.kind === 'exists') {
        // Another request took the name meanwhile: the channel just made would have no name.
        await client.delete(config.bundleId, created.channelId);
        throw exists();
      }
      return reply.status(201).send(channelView(record));
    },
  );

  api.get<{ Params: AppParams; Querystring: { environment?: string } }>(
    '/v1/apps/:app/channels',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['channels'],
        operationId: 'listChannels',
        summary: 'List channels',
        description: 'The channels Pushfleet manages for the app (from its own store: no APNs request).',
        params: appParams,
        querystring: z.object({
          environment: z.enum(environments).optional().describe('Only this environment’s channels'),
        }),
        response: {
          200: jsonResponse('The channels', channelListSchema),
          ...errorResponses(...appRoute),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const env = request.query.environment as Environment | undefined;
      return { items: (await store.list(app, env)).map(channelView) };
    },
  );

  api.get<{ Params: ChannelParams }>(
    '/v1/apps/:app/channels/:channel',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['channels'],
        operationId: 'getChannel',
        summary: 'Read a channel',
        description:
          'Reads the channel at APNs too: one APNs no longer knows (`ChannelNotRegistered`) is forgotten and answered 404.',
        params: channelParams,
        response: {
          200: jsonResponse('The channel', channelSchema),
          ...errorResponses(...appRoute, ...apnsErrors, 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const record = await known(app, request.params.channel);
      const client = await clientFor(app, record.environment);
      const read = await client.read(appConfigOf(ctx, app).bundleId, record.channelId);
      if (read.kind === 'rejected' && read.action === 'channel-gone') {
        await store.remove(app, record.name);
        throw new PushfleetError('PF_ERR_NOT_FOUND', 'APNs no longer knows this channel: forgotten', {
          field: 'channel',
        });
      }
      if (read.kind !== 'ok') throw refused(reply, read);
      return channelView(record);
    },
  );

  api.delete<{ Params: ChannelParams }>(
    '/v1/apps/:app/channels/:channel',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['channels'],
        operationId: 'deleteChannel',
        summary: 'Delete a channel',
        description:
          'Deletes it at APNs (irreversible; a stored message may still reach devices) and forgets it. One APNs ' +
          'no longer knows is forgotten all the same.',
        params: channelParams,
        response: {
          204: z.undefined().describe('Deleted'),
          ...errorResponses(...appRoute, ...apnsErrors, 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const record = await known(app, request.params.channel);
      const client = await clientFor(app, record.environment);
      const deleted = await client.delete(appConfigOf(ctx, app).bundleId, record.channelId);
      const gone = deleted.kind === 'rejected' && deleted.action === 'channel-gone';
      if (deleted.kind !== 'ok' && !gone) throw refused(reply, deleted);
      await store.remove(app, record.name);
      return reply.status(204).send();
    },
  );
}
