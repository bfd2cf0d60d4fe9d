import { handleOpsRequest } from '@pushfleet/telemetry';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { jsonResponse } from '../schema/common.ts';
import { anyRequest, errorResponses } from '../schema/errors.ts';
import { healthSchema, readySchema } from '../schema/responses.ts';

const routes = {
  '/metrics': {
    summary: 'Prometheus metrics',
    response: {
      200: {
        description: 'Prometheus text exposition (docs/metrics.md)',
        content: { 'text/plain': { schema: z.string() } },
      },
    },
  },
  '/healthz': { summary: 'Liveness', response: { 200: jsonResponse('The process is up', healthSchema) } },
  '/readyz': {
    summary: 'Readiness',
    response: {
      200: jsonResponse('Redis answers', readySchema),
      503: jsonResponse('Redis does not answer', readySchema),
    },
  },
};

/** `/metrics`, `/healthz`, `/readyz` on the api's own port (no key: they carry no app data). */
export function registerOpsRoutes(
  api: FastifyInstance,
  deps: { registry: Registry; ready: () => Promise<boolean> },
): void {
  for (const [path, { summary, response }] of Object.entries(routes)) {
    api.get(
      path,
      {
        schema: {
          tags: ['ops'],
          operationId: path.slice(1),
          summary,
          response: { ...response, ...errorResponses(...anyRequest) },
        },
      },
      async (request, reply) => {
        const { status: code, type, body } = await handleOpsRequest(request.url, deps);
        return reply.status(code).type(type).send(body);
      },
    );
  }
}
