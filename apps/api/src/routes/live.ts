import {
  liveSendRequestSchema,
  PushfleetError,
  type ValidLiveSend,
  validateLiveSendRequest,
} from '@pushfleet/core';
import { ActivityTokenStore, PushToStartStore } from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { type AppParams, idempotent, type RouteContext, sendableAppOf } from '../context.ts';
import { appParams, idempotencyHeaders, jsonResponse, replayedHeader } from '../schema/common.ts';
import { appRoute, errorResponses, idempotentCreate, jsonBody } from '../schema/errors.ts';
import { notificationAcceptedSchema } from '../schema/responses.ts';
import { registerLiveTokenRoutes } from './live-tokens.ts';

/**
 * Live Activity pushes (docs/apns-protocol.md §H) addressed to tokens, activity ids or users,
 * accepted like notifications (a ledger record + deliver jobs, Idempotency-Key honoured) and read
 * with `GET /v1/apps/:app/notifications/:id`; and the token registries (live-tokens.ts).
 */
export function registerLiveActivityRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const starts = new PushToStartStore(ctx.redis, ctx.prefix);
  const activities = new ActivityTokenStore(ctx.redis, ctx.prefix);

  api.post<{ Params: AppParams }>(
    '/v1/apps/:app/live-activities',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['live activities'],
        operationId: 'sendLiveActivity',
        summary: 'Start, update or end Live Activities',
        description:
          'To up to 1000 tokens, activity ids (update/end: each resolved to its current token when sent) ' +
          'or user ids (start: their push-to-start tokens of `notification.attributesType`; update/end: their ' +
          'running activities). The topic gets `.push-type.liveactivity`; token (.p8) apps only. Read its ' +
          'status at `/v1/apps/{app}/notifications/{id}`.',
        params: appParams,
        headers: idempotencyHeaders,
        body: liveSendRequestSchema,
        response: {
          202: jsonResponse('Accepted', notificationAcceptedSchema, replayedHeader),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            ...idempotentCreate,
            'PF_ERR_EMPTY_TOKENS',
            'PF_ERR_TOO_MANY_TOKENS',
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_PAYLOAD_TOO_LARGE',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_TOKEN_AUTH_REQUIRED',
            'PF_ERR_APP_DISABLED',
          ),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const valid = validateLiveSendRequest(request.body, sendableAppOf(ctx, app), ctx.now());
      return idempotent(ctx, request, reply, JSON.stringify(request.body), async (accept) => {
        const { targets, byActivity } = await resolveTargets(app, valid);
        const answer = { status: 202, body: { id: accept.id, accepted: targets.length } };
        await ctx.producer.enqueueNotification(
          {
            id: accept.id,
            app,
            environment: valid.environment,
            prepared: valid.prepared,
            tokens: targets,
            ...(byActivity && { target: 'activity' as const }),
            delayMs: valid.delayMs,
            now: ctx.now(),
          },
          (tx) => accept.stageAnswer(tx, answer),
        );
        ctx.metrics.notificationsAccepted.inc({ app, environment: valid.environment }, targets.length);
        return answer;
      });
    },
  );

  /** Tokens, or activity ids to resolve at send time; user ids are resolved now (a start) or to activity ids. */
  const resolveTargets = async (
    app: string,
    valid: ValidLiveSend,
  ): Promise<{ targets: string[]; byActivity: boolean }> => {
    const { target, environment } = valid;
    if (target.kind === 'tokens') return { targets: target.tokens, byActivity: false };
    if (target.kind === 'activities') return { targets: target.activityIds, byActivity: true };
    const found = new Set<string>();
    for (const userId of target.userIds) {
      if (valid.event === 'start') {
        for (const r of await starts.forUser(app, environment, valid.attributesType!, userId))
          found.add(r.token);
      } else {
        for (const r of await activities.forUser(app, environment, userId)) found.add(r.activityId);
      }
      if (found.size > ctx.config.api.maxResolvedTokens) {
        throw new PushfleetError('PF_ERR_TOO_MANY_TOKENS', 'the users have too many tokens for one request', {
          field: 'userIds',
        });
      }
    }
    return { targets: [...found], byActivity: valid.event !== 'start' };
  };

  registerLiveTokenRoutes(api, ctx, starts, activities);
}
