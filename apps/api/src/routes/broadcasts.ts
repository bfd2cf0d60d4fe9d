import { broadcastRequestSchema, PushfleetError, validateBroadcastRequest } from '@pushfleet/core';
import { ChannelStore } from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { type AppParams, appConfigOf, idempotent, type RouteContext, sendableAppOf } from '../context.ts';
import { idempotencyHeaders, jsonResponse, replayedHeader } from '../schema/common.ts';
import { appRoute, errorResponses, idempotentCreate, jsonBody } from '../schema/errors.ts';
import {
  broadcastAcceptedSchema,
  broadcastParams,
  broadcastStatusSchema,
  channelParams,
} from '../schema/live.ts';
import { channelNameOf } from './channels.ts';

type ChannelParams = AppParams & { channel: string };
type BroadcastParams = AppParams & { id: string };

/**
 * Broadcasts (docs/apns-protocol.md §F.2): one request updates or ends every Live Activity
 * subscribed to a channel. Accepted like a notification — a ledger record of kind `broadcast` and
 * its deliver job in the app's queue, in one transaction, Idempotency-Key honoured — and sent by
 * a worker (`POST /4/broadcasts/apps/<bundle id>` with the channel's id), retried like device
 * pushes.
 */
export function registerBroadcastRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const channels = new ChannelStore(ctx.redis, ctx.prefix);

  api.post<{ Params: ChannelParams }>(
    '/v1/apps/:app/channels/:channel/broadcasts',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['channels'],
        operationId: 'broadcast',
        summary: 'Broadcast to a channel',
        description:
          'An update or end for every activity subscribed to the channel. Checked against the channel’s storage ' +
          'policy (expiration 0 on a policy-0 channel; default 0 there and now + 8 h on policy 1) and the ' +
          '5120-byte limit. Read its outcome at `/v1/apps/{app}/broadcasts/{id}`.',
        params: channelParams,
        headers: idempotencyHeaders,
        body: broadcastRequestSchema,
        response: {
          202: jsonResponse('Accepted', broadcastAcceptedSchema, replayedHeader),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            ...idempotentCreate,
            'PF_ERR_NOT_FOUND',
            'PF_ERR_PAYLOAD_TOO_LARGE',
            'PF_ERR_APP_DISABLED',
          ),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const config = sendableAppOf(ctx, app);
      const name = channelNameOf(request.params.channel);
      const channel = await channels.get(app, name);
      if (!channel) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such channel', { field: 'channel' });
      const prepared = validateBroadcastRequest(
        request.body,
        { bundleId: config.bundleId, storagePolicy: channel.storagePolicy },
        ctx.now(),
      );
      // The key's scope is the route's pattern, so the channel is part of what the key must match:
      // a key reused for another channel is a mismatch (422), never the first channel's answer.
      const fingerprint = JSON.stringify({ channel: name, body: request.body });
      return idempotent(ctx, request, reply, fingerprint, async (accept) => {
        const answer = { status: 202, body: { id: accept.id, channel: name } };
        await ctx.producer.enqueueBroadcast(
          {
            id: accept.id,
            app,
            environment: channel.environment,
            channel: name,
            channelId: channel.channelId,
            prepared,
            now: ctx.now(),
          },
          (tx) => accept.stageAnswer(tx, answer),
        );
        return answer;
      });
    },
  );

  api.get<{ Params: BroadcastParams }>(
    '/v1/apps/:app/broadcasts/:id',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['channels'],
        operationId: 'getBroadcast',
        summary: 'Broadcast status',
        description: 'Its outcome: `delivered` once APNs accepted it, or why not.',
        params: broadcastParams,
        response: {
          200: jsonResponse('The broadcast', broadcastStatusSchema),
          ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const { app, id } = request.params;
      appConfigOf(ctx, app);
      const status = await ctx.ledger.records.broadcast(app, id);
      if (!status) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such broadcast', { field: 'id' });
      return status;
    },
  );
}
