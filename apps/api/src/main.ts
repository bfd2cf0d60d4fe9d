import { loadConfig } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import { connectRedis, createRedis } from '@pushfleet/queue';
import {
  createApiMetrics,
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
} from '@pushfleet/telemetry';
import { Registry } from 'prom-client';
import { authRequired } from './auth.ts';
import { buildApi } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'api', level: config.log.level });
  if (config.api.auth.required === true && config.api.keys.length === 0) {
    throw new PushfleetError('PF_ERR_CONFIG', 'api.auth.required is true but api.keys is empty', {
      field: 'api.keys',
    });
  }
  if (!authRequired(config)) {
    log.warn(
      'API auth is OFF (no api.keys configured): every caller is admin. Configure api.keys in production.',
    );
  }
  const registry = new Registry();
  enableProcessMetrics(registry);

  const redis = createRedis(config.redis, 'producer');
  // Without a listener ioredis prints raw errors to stderr during an outage (logs must stay JSON).
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(redis);
  const api = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  const address = await api.listen({ host: config.api.host, port: config.api.port });
  log.info({ address, auth: authRequired(config) }, 'api ready');

  onShutdownSignal(
    [
      { name: 'http', close: () => api.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    10_000,
  );
}

main().catch((err) => exitOnStartupError('api', err));
