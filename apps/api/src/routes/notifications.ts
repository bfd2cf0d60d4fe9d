import { randomUUID } from 'node:crypto';
import type { Config } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import type { DeliverProducer } from '@pushfleet/queue';
import type { NotificationStatusStore } from '@pushfleet/store';
import type { ApiMetrics } from '@pushfleet/telemetry';
import type { FastifyInstance } from 'fastify';
import { validateSendRequest } from '../send-request.ts';

export interface NotificationRouteDeps {
  config: Readonly<Config>;
  producer: DeliverProducer;
  status: NotificationStatusStore;
  metrics: ApiMetrics;
}

type AppParams = { app: string };

export function registerNotificationRoutes(api: FastifyInstance, deps: NotificationRouteDeps): void {
  const appConfig = (app: string) => {
    const config = deps.config.apps[app];
    if (!config) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
    return config;
  };

  api.post<{ Params: AppParams }>('/v1/apps/:app/notifications', async (request, reply) => {
    const { app } = request.params;
    const valid = validateSendRequest(request.body, appConfig(app), deps.config.api.maxTokensPerRequest);
    const id = randomUUID();
    // Status first, then the jobs: if enqueueing fails the record is removed and the caller gets
    // a 503, so nothing is half-accepted.
    await deps.status.create({ id, app, environment: valid.environment, accepted: valid.tokens.length });
    try {
      await deps.producer.enqueue(
        { app, environment: valid.environment, notificationId: id, prepared: valid.prepared },
        valid.tokens,
      );
    } catch (err) {
      await deps.status.remove(id).catch(() => undefined);
      throw err;
    }
    deps.metrics.notificationsAccepted.inc({ app, environment: valid.environment }, valid.tokens.length);
    return reply.status(202).send({ id, accepted: valid.tokens.length });
  });

  api.get<{ Params: AppParams & { id: string } }>('/v1/apps/:app/notifications/:id', async (request) => {
    const { app, id } = request.params;
    appConfig(app);
    const status = await deps.status.get(id);
    if (!status || status.app !== app)
      throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such notification', { field: 'id' });
    return status;
  });
}
