import type { Config } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import type { DeliverProducer } from '@pushfleet/queue';
import type { NotificationStatusStore } from '@pushfleet/store';
import { type ApiMetrics, handleOpsRequest, type Logger } from '@pushfleet/telemetry';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { errorHandler } from './error-handler.ts';
import { registerNotificationRoutes } from './routes/notifications.ts';

export interface ApiDeps {
  config: Readonly<Config>;
  producer: DeliverProducer;
  status: NotificationStatusStore;
  metrics: ApiMetrics;
  registry: Registry;
  log: Logger;
  ready: () => Promise<boolean>;
}

/** Builds the HTTP API without listening, so tests can use `inject` or listen on port 0. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const api = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.config.api.bodyLimitBytes,
    disableRequestLogging: true,
  });
  api.setErrorHandler(errorHandler);
  api.setNotFoundHandler((_request, reply) => {
    void reply.status(404).send(new PushfleetError('PF_ERR_NOT_FOUND').toBody());
  });
  api.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });

  for (const path of ['/metrics', '/healthz', '/readyz']) {
    api.get(path, async (request, reply) => {
      const { status, type, body } = await handleOpsRequest(request.url, deps);
      return reply.status(status).type(type).send(body);
    });
  }
  registerNotificationRoutes(api, deps);
  return api;
}
