import { setTimeout as sleep } from 'node:timers/promises';
import type { AppEntry } from '@pushfleet/config';
import { type Environment, type ErrorCode, PushfleetError } from '@pushfleet/core';
import { pendingWork } from '@pushfleet/queue';
import type { AppView, HasWork } from '@pushfleet/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppParams, RouteContext } from '../context.ts';
import {
  appListQuery,
  appListSchema,
  appPutBody,
  appViewSchema,
  appWriteSchema,
  credentialUploadBody,
  registryAppParams,
} from '../schema/apps.ts';
import { jsonResponse } from '../schema/common.ts';
import { anyRequest, appRoute, errorResponses, jsonBody } from '../schema/errors.ts';

/**
 * "Does the app still have work?" for `DELETE /v1/apps/:app`: any job in its queues that has not
 * finished (a scheduled send, a campaign's fan-out, a batch waiting to retry are all jobs). Deleting
 * is refused while there is (PF_ERR_APP_HAS_WORK) rather than draining first: draining can take
 * hours (a campaign, a retry hours out) and the API answers at once. The way to retire an app:
 * disable it (no new work), wait for its queue to empty, delete it.
 */
export function queueHasWork(ctx: RouteContext): HasWork {
  return async (app) => {
    const work = await pendingWork(ctx.producer.queues.appQueues(app));
    return work.ready + work.active + work.delayed > 0;
  };
}

/**
 * An app as answered: the store's view plus `expiry`, when its credentials stop working in each of
 * its environments (a certificate's notAfter where it covers the environment, null for a `.p8`
 * key, which Apple does not expire) — what `pushfleet_credential_expiry_timestamp_seconds` exports.
 */
export function present(view: AppView): AppView & { expiry: Partial<Record<Environment, string | null>> } {
  const c = view.credentials;
  const expiry: Partial<Record<Environment, string | null>> = {};
  if (c) {
    for (const environment of view.settings.environments) {
      if (c.type === 'token') expiry[environment] = null;
      else if (c.environments.includes(environment)) expiry[environment] = c.notAfter;
    }
  }
  return { ...view, expiry };
}

/** How long a write waits for this api's directory to show it before refreshing it outright. */
const settleMs = 1000;

/**
 * Read-your-writes for the api that made a change: the write answers once this process's app
 * directory shows it, so a send right after a disable through the same api is refused. The change
 * message usually lands within milliseconds (in-memory checks meanwhile); one that went missing is
 * caught by a refresh after `settleMs`. Other replicas follow within `appRegistry.pollMs`. A
 * directory that does not follow the registry (config apps only) has nothing to wait for.
 */
async function seen(ctx: RouteContext, app: string, shows: (entry: AppEntry | undefined) => boolean) {
  const refresh = (ctx.directory as { refresh?: () => Promise<void> }).refresh?.bind(ctx.directory);
  if (!refresh) return;
  const deadline = Date.now() + settleMs;
  while (!shows(ctx.directory.get(app))) {
    if (Date.now() >= deadline) return refresh();
    await sleep(2);
  }
}

/** The audit trail of admin writes: who changed which app how (never a setting's value or a secret). */
function audit(request: FastifyRequest, app: string, action: string, revision?: string): void {
  request.log.info({ app, action, by: request.principal?.id ?? null, revision }, 'app registry change');
}

/** Codes every write answers besides the route's own. */
const writes = [
  'PF_ERR_APP_READ_ONLY',
  'PF_ERR_ENCRYPTION_KEY_MISSING',
] as const satisfies readonly ErrorCode[];

/** `appRoute` without PF_ERR_UNKNOWN_APP: what a create-or-replace answers. */
const putRoute = appRoute.filter((code) => code !== 'PF_ERR_UNKNOWN_APP');

const adminNote =
  'Config apps are listed and read, but they are changed in the config file only (`PF_ERR_APP_READ_ONLY`). ' +
  'A write answers once this api serves the change; every other api, worker and scheduler process follows ' +
  'within `appRegistry.pollMs` (usually at once).';

/**
 * The admin API (permission `admin`): apps added, changed, disabled, enabled and deleted at run
 * time, and their credentials rotated, in the app registry (packages/store). Answers are public
 * views: key material and webhook secrets are stored sealed and never returned.
 */
export function registerAppRoutes(api: FastifyInstance, ctx: RouteContext): void {
  api.get<{ Querystring: { after?: string; limit?: string } }>(
    '/v1/apps',
    {
      config: { permission: 'admin' },
      schema: {
        tags: ['apps'],
        operationId: 'listApps',
        summary: 'List apps',
        description:
          'Every app the key is scoped to (all for `*`), from the config file and the registry, by id, a page ' +
          `at a time: pass \`next\` as \`after\` to continue. ${adminNote}`,
        querystring: appListQuery,
        response: {
          200: jsonResponse('A page of apps', appListSchema),
          ...errorResponses(
            ...anyRequest,
            'PF_ERR_VALIDATION',
            'PF_ERR_REDIS_UNAVAILABLE',
            'PF_ERR_UNAUTHORIZED',
            'PF_ERR_FORBIDDEN',
            'PF_ERR_RATE_LIMITED',
          ),
        },
      },
    },
    async (request) => {
      const { after, limit } = appListQuery.parse(request.query);
      const scope = request.principal?.apps ?? [];
      const page = await ctx.apps.page({
        after,
        limit,
        visible: (id) => scope.includes('*') || scope.includes(id),
      });
      return { items: page.items.map(present), next: page.next };
    },
  );

  api.get<{ Params: AppParams }>(
    '/v1/apps/:app',
    {
      config: { permission: 'admin' },
      schema: {
        tags: ['apps'],
        operationId: 'getApp',
        summary: 'Read an app',
        description:
          'Its settings (secrets `[redacted]`), state, revision and its credentials’ public info: fingerprint, ' +
          'key id and team id, or the certificate’s subject, topics, environments and `notAfter` (expiry).',
        params: registryAppParams,
        response: { 200: jsonResponse('The app', appViewSchema), ...errorResponses(...appRoute) },
      },
    },
    async (request) => {
      const view = await ctx.apps.get(request.params.app);
      if (!view) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
      return present(view);
    },
  );

  api.put<{ Params: AppParams }>(
    '/v1/apps/:app',
    {
      config: { permission: 'admin' },
      schema: {
        tags: ['apps'],
        operationId: 'putApp',
        summary: 'Create or update an app',
        description:
          'Creates the app (201; `credentials` required) or replaces its settings (200). New credentials are ' +
          'checked first (`PF_ERR_BAD_CREDENTIALS` names the problem and the part at fault), then stored ' +
          'sealed under the key-encryption key (`appRegistry.keyEncryptionKey`; without one the upload is ' +
          `refused with \`PF_ERR_ENCRYPTION_KEY_MISSING\`). State (active or disabled) is kept. ${adminNote}`,
        params: registryAppParams,
        body: appPutBody,
        response: {
          200: jsonResponse('Updated', appWriteSchema),
          201: jsonResponse('Created', appWriteSchema),
          ...errorResponses(...putRoute, ...jsonBody, ...writes, 'PF_ERR_BAD_CREDENTIALS'),
        },
      },
    },
    async (request, reply) => {
      const { app, created, warnings } = await ctx.apps.put(request.params.app, request.body);
      await seen(ctx, app.id, (entry) => entry?.revision === app.revision);
      audit(request, app.id, created ? 'create' : 'update', app.revision);
      return reply.status(created ? 201 : 200).send({ app: present(app), warnings });
    },
  );

  api.put<{ Params: AppParams }>(
    '/v1/apps/:app/credentials',
    {
      config: { permission: 'admin' },
      schema: {
        tags: ['apps'],
        operationId: 'putAppCredentials',
        summary: 'Rotate an app’s credentials',
        description:
          'Replaces the credentials (a new `.p8` key, a renewed certificate): checked against the app’s bundle ' +
          'id and environments, stored sealed, a new revision. Workers switch over without failing a send: ' +
          'connections open with the old credentials finish their streams, new ones use the new. ' +
          adminNote,
        params: registryAppParams,
        body: credentialUploadBody,
        response: {
          200: jsonResponse('Rotated', appWriteSchema),
          ...errorResponses(...appRoute, ...jsonBody, ...writes, 'PF_ERR_BAD_CREDENTIALS'),
        },
      },
    },
    async (request) => {
      const { app, warnings } = await ctx.apps.putCredentials(request.params.app, request.body);
      await seen(ctx, app.id, (entry) => entry?.revision === app.revision);
      audit(request, app.id, 'rotate credentials', app.revision);
      return { app: present(app), warnings };
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    api.post<{ Params: AppParams }>(
      `/v1/apps/:app/${action}`,
      {
        config: { permission: 'admin' },
        schema: {
          tags: ['apps'],
          operationId: `${action}App`,
          summary: action === 'disable' ? 'Disable an app' : 'Enable an app',
          description:
            action === 'disable'
              ? 'New notifications and campaigns for it are refused (`PF_ERR_APP_DISABLED`); work already queued ' +
                'is still delivered. Disabling a disabled app is harmless.'
              : 'It takes new work again. Enabling an active app is harmless.',
          params: registryAppParams,
          response: {
            200: jsonResponse('The app as it is now', appViewSchema),
            ...errorResponses(...appRoute, 'PF_ERR_APP_READ_ONLY'),
          },
        },
      },
      async (request) => {
        const view = await ctx.apps[action](request.params.app);
        await seen(ctx, view.id, (entry) => entry?.state === view.state);
        audit(request, view.id, action);
        return present(view);
      },
    );
  }

  api.delete<{ Params: AppParams }>(
    '/v1/apps/:app',
    {
      config: { permission: 'admin' },
      schema: {
        tags: ['apps'],
        operationId: 'deleteApp',
        summary: 'Delete an app',
        description:
          'Removes the app and its sealed credentials. Refused (`PF_ERR_APP_HAS_WORK`) while its queue holds ' +
          'any unfinished job (waiting, scheduled, retrying, running, paused): disable it, let the queue ' +
          'drain, then delete. Its devices, records and feedback stay in Redis under its id.',
        params: registryAppParams,
        response: {
          204: z.undefined().describe('Deleted'),
          ...errorResponses(...appRoute, 'PF_ERR_APP_READ_ONLY', 'PF_ERR_APP_HAS_WORK'),
        },
      },
    },
    async (request, reply) => {
      await ctx.apps.delete(request.params.app, queueHasWork(ctx));
      await seen(ctx, request.params.app, (entry) => entry === undefined);
      audit(request, request.params.app, 'delete');
      return reply.status(204).send();
    },
  );
}
