import {
  activityIdSchema,
  activityTokenRegistrationSchema,
  attributesTypeSchema,
  type Environment,
  environments,
  isValidDeviceToken,
  normalizeDeviceToken,
  PushfleetError,
  parseOrThrow,
  pushToStartRegistrationSchema,
  resolveEnvironment,
} from '@pushfleet/core';
import type {
  ActivityRecord,
  ActivityTokenStore,
  PushToStartRecord,
  PushToStartStore,
} from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, type RouteContext } from '../context.ts';
import { environmentQuery, jsonResponse } from '../schema/common.ts';
import { appRoute, errorResponses, jsonBody } from '../schema/errors.ts';
import {
  activityParams,
  activityTokenSchema,
  pushToStartParams,
  pushToStartQuery,
  pushToStartTokenSchema,
} from '../schema/live.ts';

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
 * The Live Activity token registries (docs/apns-protocol.md §H.3), as the app reports its tokens:
 * push-to-start tokens per attributes type and user, and each activity's current update token.
 */
export function registerLiveTokenRoutes(
  api: FastifyInstance,
  ctx: RouteContext,
  starts: PushToStartStore,
  activities: ActivityTokenStore,
): void {
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
