import { PushfleetError, sendRequestSchema, validateSendRequest } from '@pushfleet/core';
import { settleCancelled } from '@pushfleet/queue';
import type { FastifyInstance } from 'fastify';
import { type AppParams, appConfigOf, idempotent, type RouteContext, sendableAppOf } from '../context.ts';
import { appParams, idempotencyHeaders, idParams, jsonResponse, replayedHeader } from '../schema/common.ts';
import { appRoute, errorResponses, idempotentCreate, jsonBody } from '../schema/errors.ts';
import { notificationAcceptedSchema, notificationStatusSchema } from '../schema/responses.ts';

type IdParams = AppParams & { id: string };

export function registerNotificationRoutes(api: FastifyInstance, ctx: RouteContext): void {
  api.post<{ Params: AppParams }>(
    '/v1/apps/:app/notifications',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['notifications'],
        operationId: 'sendNotification',
        summary: 'Send a notification',
        description:
          'To up to 1000 tokens (duplicates collapse to one), or to the devices of user ids or tags ' +
          '(resolved through the registry, at most `api.maxResolvedTokens`). `sendAt` (≤ 30 days ahead) ' +
          'delays it. Enqueued with priority over running campaigns.',
        params: appParams,
        headers: idempotencyHeaders,
        body: sendRequestSchema,
        response: {
          202: jsonResponse('Accepted: every token is queued', notificationAcceptedSchema, replayedHeader),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            ...idempotentCreate,
            'PF_ERR_EMPTY_TOKENS',
            'PF_ERR_TOO_MANY_TOKENS',
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_PAYLOAD_TOO_LARGE',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_APP_DISABLED',
          ),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const valid = validateSendRequest(
        request.body,
        sendableAppOf(ctx, app),
        ctx.config.api.maxTokensPerRequest,
        ctx.now(),
      );
      return idempotent(ctx, request, reply, JSON.stringify(request.body), async (accept) => {
        let tokens = valid.tokens;
        if (!tokens) {
          tokens = await ctx.registry.resolve(
            app,
            valid.environment,
            valid.audience!,
            ctx.config.api.maxResolvedTokens,
          );
          if (tokens === null) {
            throw new PushfleetError(
              'PF_ERR_TOO_MANY_TOKENS',
              `resolves to more than ${ctx.config.api.maxResolvedTokens} devices; send a campaign instead`,
              { field: valid.audience!.kind === 'users' ? 'userIds' : 'tags' },
            );
          }
        }
        const answer = { status: 202, body: { id: accept.id, accepted: tokens.length } };
        await ctx.producer.enqueueNotification(
          {
            id: accept.id,
            app,
            environment: valid.environment,
            prepared: valid.prepared,
            tokens,
            delayMs: valid.delayMs,
            now: ctx.now(),
          },
          (tx) => accept.stageAnswer(tx, answer),
        );
        ctx.metrics.notificationsAccepted.inc({ app, environment: valid.environment }, tokens.length);
        return answer;
      });
    },
  );

  const read = async (app: string, id: string) => {
    appConfigOf(ctx, app);
    const status = await ctx.ledger.records.notification(app, id);
    if (!status) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such notification', { field: 'id' });
    return status;
  };

  api.get<{ Params: IdParams }>(
    '/v1/apps/:app/notifications/:id',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['notifications'],
        operationId: 'getNotification',
        summary: 'Notification status',
        description:
          'Its state and outcome counts; `state` is `done` once every token has a terminal outcome.',
        params: idParams,
        response: {
          200: jsonResponse('The notification', notificationStatusSchema),
          ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request) => read(request.params.app, request.params.id),
  );

  api.delete<{ Params: IdParams }>(
    '/v1/apps/:app/notifications/:id',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['notifications'],
        operationId: 'cancelNotification',
        summary: 'Cancel a notification',
        description:
          'Tokens not sent yet end `cancelled`; cancelling again is harmless, a finished one is 409.',
        params: idParams,
        response: {
          202: jsonResponse('Cancelled: its status', notificationStatusSchema),
          ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND', 'PF_ERR_CAMPAIGN_FINISHED'),
        },
      },
    },
    async (request, reply) => {
      const { app, id } = request.params;
      await read(app, id);
      const result = await ctx.ledger.records.cancel(app, id, ctx.now());
      if (result === 'finished') throw new PushfleetError('PF_ERR_CAMPAIGN_FINISHED', 'already finished');
      // Also on a repeated cancel: one that stopped half-way is finished by the next.
      if (result !== 'not-found') {
        await settleCancelled(ctx.ledger, ctx.producer.queues.appQueues(app), app, id, ctx.now());
      }
      return reply.status(202).send(await read(app, id));
    },
  );
}
