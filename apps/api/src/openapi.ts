import { configSchema } from '@pushfleet/config';
import { createRedis } from '@pushfleet/queue';
import { createApiMetrics, createLogger } from '@pushfleet/telemetry';
import { Registry } from 'prom-client';
import { buildApi } from './server.ts';

/** The OpenAPI 3.0 document as JSON (what `/docs/json` serves). */
export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, unknown> };

/**
 * The OpenAPI document the api serves at `/docs/json`, without a running api: the same routes are
 * built (Redis is never connected: nothing is requested) and @fastify/swagger generates it from
 * their zod schemas. It depends on no configuration, so every api serves this very document;
 * docs/api.md is generated from it (scripts/ops/docs.ts).
 */
export async function buildOpenApi(): Promise<OpenApiDocument> {
  const config = configSchema.parse({
    redis: { url: 'redis://127.0.0.1:6379', prefix: 'openapi' },
    apps: {},
  });
  const redis = createRedis(config.redis, 'producer');
  const registry = new Registry();
  const api = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: createLogger({ name: 'openapi', level: 'silent' }),
    ready: async () => false,
  });
  try {
    await api.ready();
    return JSON.parse(JSON.stringify(api.swagger())) as OpenApiDocument;
  } finally {
    await api.close();
    redis.disconnect();
  }
}
