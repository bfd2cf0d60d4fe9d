import { loadConfig } from '@pushfleet/config';
import { connectRedis, createRedis, DeliverProducer } from '@pushfleet/queue';
import { NotificationStatusStore } from '@pushfleet/store';
import {
  createApiMetrics,
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
} from '@pushfleet/telemetry';
import { Registry } from 'prom-client';
import { buildApi } from './server.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'api', level: config.log.level });
  const registry = new Registry();
  enableProcessMetrics(registry);

  const redis = createRedis(config.redis.url, 'producer');
  await connectRedis(redis);
  const producer = new DeliverProducer(redis, config.redis.prefix);
  const api = buildApi({
    config,
    producer,
    status: new NotificationStatusStore(redis, config.redis.prefix),
    metrics: createApiMetrics(registry),
    registry,
    log,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  const address = await api.listen({ host: config.api.host, port: config.api.port });
  log.info({ address }, 'api ready');

  onShutdownSignal(
    [
      { name: 'http', close: () => api.close() },
      { name: 'producer', close: () => producer.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    10_000,
  );
}

main().catch((err) => exitOnStartupError('api', err));
