import {
  activityIdSchema,
  activityTokenRegistrationSchema,
  attributesTypeSchema,
  type Environment,
  environments,
  isValidDeviceToken,
  liveSendRequestSchema,
  normalizeDeviceToken,
  PushfleetError,
  parseOrThrow,
  pushToStartRegistrationSchema,
  resolveEnvironment,
  type ValidLiveSend,
  validateLiveSendRequest,
} from '@pushfleet/core';
import {
  type ActivityRecord,
  ActivityTokenStore,
  type PushToStartRecord,
  PushToStartStore,
} from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, idempotent, type RouteContext, sendableAppOf } from '../context.ts';
import {
  appParams,
  environmentQuery,
  idempotencyHeaders,
  jsonResponse,
  replayedHeader,
} from '../schema/common.ts';
import { appRoute, errorResponses, idempotentCreate, jsonBody } from '../schema/errors.ts';
import {
  activityParams,
  activityTokenSchema,
  pushToStartParams,
  pushToStartQuery,
  pushToStartTokenSchema,
} from '../schema/live.ts';
import { notificationAcceptedSchema } from '../schema/responses.ts';

type TokenParams = AppParams & { token: string };
type ActivityParams = AppParams & { activityId: string };

function tokenParam(raw: unknown, field = 'token'): string {
  if (!isValidDeviceToken(raw)) throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field });
  return normalizeDeviceToken(raw);
}

const pushToStartView = (r: PushToStartRecord) => ({
  ...r,
  registeredAt: new Date(r.registeredAt).toISOString(),
});
const activityView = (r: ActivityRecord) => ({
  activityId: r.activityId,
  token: r.token,
  app: r.app,
  environment: r.environment,
  userId: r.userId,
  attributesType: r.attributesType,
  registeredAt: new Date(r.registeredAt).toISOString(),
  updatedAt: new Date(r.updatedAt).toISOString(),
});

/**
 * Live Activities (docs/apns-protocol.md §H): the push-to-start and activity token registries,
 * and Live Activity pushes addressed to tokens, activity ids or users. Pushes are accepted like
 * notifications (a ledger record + deliver jobs, Idempotency-Key honoured) and read with
 * `GET /v1/apps/:app/notifications/:id`.
 */
export function registerLiveActivityRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const starts = new PushToStartStore(ctx.redis, ctx.prefix);
  const activities = new ActivityTokenStore(ctx.redis, ctx.prefix);
  const environmentOf = (app: string, raw: unknown): Environment => {
    const env = raw === undefined ? undefined : parseOrThrow(z.enum(environments), raw);
    return resolveEnvironment(appConfigOf(ctx, app), env);
  };
  const activityIdOf = (raw: string) => {
    const parsed = activityIdSchema.safeParse(raw);
    if (!parsed.success) {
      throw new PushfleetError('PF_ERR_VALIDATION', parsed.error.issues[0]!.message, { field: 'activityId' });
    }
    return parsed.data;
  };

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

  api.put<{ Params: TokenParams }>(
    '/v1/apps/:app/live-activities/push-to-start/:token',
    {
      config: { permission: 'register' },
      schema: {
        tags: ['live activities'],
        operationId: 'registerPushToStartToken',
        summary: 'Register a push-to-start token',
        description:
          'Registers or refreshes a token (`pushToStartTokenUpdates`) for one ActivityAttributes type.',
        params: pushToStartParams,
        body: pushToStartRegistrationSchema,
        response: {
          200: jsonResponse('The registration', pushToStartTokenSchema),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
          ),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const token = tokenParam(request.params.token);
      const body = parseOrThrow(pushToStartRegistrationSchema, request.body);
      const environment = environmentOf(app, body.environment);
      return pushToStartView(
        await starts.register(
          app,
          { environment, attributesType: body.attributesType, token, userId: body.userId },
          ctx.now(),
        ),
      );
    },
  );

  const startTokenOf = async (
    app: string,
    rawToken: string,
    query: { attributesType?: unknown; environment?: unknown },
  ) => {
    const environment = environmentOf(app, query.environment);
    const type = attributesTypeSchema.safeParse(query.attributesType);
    if (!type.success) {
      throw new PushfleetError('PF_ERR_VALIDATION', 'attributesType: an ActivityAttributes type name', {
        field: 'attributesType',
      });
    }
    return { environment, type: type.data, token: tokenParam(rawToken) };
  };

  api.get<{ Params: TokenParams; Querystring: { attributesType: string; environment?: string } }>(
    '/v1/apps/:app/live-activities/push-to-start/:token',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['live activities'],
        operationId: 'getPushToStartToken',
        summary: 'Read a push-to-start token',
        params: pushToStartParams,
        querystring: pushToStartQuery,
        response: {
          200: jsonResponse('The registration', pushToStartTokenSchema),
          ...errorResponses(
            ...appRoute,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_NOT_FOUND',
          ),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      const { environment, type, token } = await startTokenOf(app, request.params.token, request.query);
      const record = await starts.get(app, environment, type, token);
      if (!record)
        throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such push-to-start token', { field: 'token' });
      return pushToStartView(record);
    },
  );

  api.delete<{ Params: TokenParams; Querystring: { attributesType: string; environment?: string } }>(
    '/v1/apps/:app/live-activities/push-to-start/:token',
    {
      config: { permission: 'register' },
      schema: {
        tags: ['live activities'],
        operationId: 'unregisterPushToStartToken',
        summary: 'Remove a push-to-start token',
        params: pushToStartParams,
        querystring: pushToStartQuery,
        response: {
          204: z.undefined().describe('Removed'),
          ...errorResponses(
            ...appRoute,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_NOT_FOUND',
          ),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const { environment, type, token } = await startTokenOf(app, request.params.token, request.query);
      if (!(await starts.unregister(app, environment, type, token))) {
        throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such push-to-start token', { field: 'token' });
      }
      return reply.status(204).send();
    },
  );

  api.put<{ Params: ActivityParams }>(
    '/v1/apps/:app/live-activities/activities/:activityId',
    {
      config: { permission: 'register' },
      schema: {
        tags: ['live activities'],
        operationId: 'registerActivityToken',
        summary: 'Register an activity’s update token',
        description:
          'The app reports each running activity’s token, and each new one when the system rotates it: the new ' +
          'token replaces the old. Updates and ends sent to the activity id go to the current token.',
        params: activityParams,
        body: activityTokenRegistrationSchema,
        response: {
          200: jsonResponse('The activity', activityTokenSchema),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
          ),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const activityId = activityIdOf(request.params.activityId);
      const body = parseOrThrow(activityTokenRegistrationSchema, request.body);
      const token = tokenParam(body.token);
      const environment = environmentOf(app, body.environment);
      const record = await activities.register(
        app,
        { environment, activityId, token, userId: body.userId, attributesType: body.attributesType },
        ctx.now(),
      );
      return activityView(record);
    },
  );

  api.get<{ Params: ActivityParams; Querystring: { environment?: string } }>(
    '/v1/apps/:app/live-activities/activities/:activityId',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['live activities'],
        operationId: 'getActivity',
        summary: 'Read an activity and its current token',
        params: activityParams,
        querystring: environmentQuery,
        response: {
          200: jsonResponse('The activity', activityTokenSchema),
          ...errorResponses(...appRoute, 'PF_ERR_ENVIRONMENT_NOT_ENABLED', 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      const environment = environmentOf(app, request.query.environment);
      const record = await activities.get(app, environment, activityIdOf(request.params.activityId));
      if (!record) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such activity', { field: 'activityId' });
      return activityView(record);
    },
  );

  api.delete<{ Params: ActivityParams; Querystring: { environment?: string } }>(
    '/v1/apps/:app/live-activities/activities/:activityId',
    {
      config: { permission: 'register' },
      schema: {
        tags: ['live activities'],
        operationId: 'endActivityRecord',
        summary: 'Forget an activity',
        description:
          'Ends the activity’s record (its token is no longer used); nothing is sent to the device.',
        params: activityParams,
        querystring: environmentQuery,
        response: {
          204: z.undefined().describe('Removed'),
          ...errorResponses(...appRoute, 'PF_ERR_ENVIRONMENT_NOT_ENABLED', 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const { app } = request.params;
      const environment = environmentOf(app, request.query.environment);
      if (!(await activities.end(app, environment, activityIdOf(request.params.activityId)))) {
        throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such activity', { field: 'activityId' });
      }
      return reply.status(204).send();
    },
  );
}
