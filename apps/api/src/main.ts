import { loadConfig } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import { connectRedis, createRedis } from '@pushfleet/queue';
import { loadKeyEncryptionKey, openAppDirectory } from '@pushfleet/store';
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

  // Read before Redis is reached: a missing key file or variable is a config error, reported at once.
  const kek = loadKeyEncryptionKey(config.appRegistry.keyEncryptionKey, process.env);
  const redis = createRedis(config.redis, 'producer');
  // Without a listener ioredis prints raw errors to stderr during an outage (logs must stay JSON).
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(redis);
  // The change channel's own connection: a subscribed connection takes no other commands, and
  // this one waits out an outage (a producer connection fails fast and would not resubscribe).
  const subscriber = createRedis(config.redis, 'worker');
  subscriber.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(subscriber);
  // A key-encryption key that is not the registry's (or none while it holds sealed data) stops the
  // start here (PF_ERR_CONFIG naming the field), not at the first credential upload; the directory
  // then serves registry apps beside config ones.
  const directory = await openAppDirectory({
    redis,
    subscriber,
    prefix: config.redis.prefix,
    config,
    kek,
    pollMs: config.appRegistry.pollMs,
    onError: (err, context) => log.warn({ err, context }, 'app directory'),
  });
  const api = buildApi({
    config,
    redis,
    directory,
    kek,
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
      { name: 'redis-subscriber', close: async () => void (await subscriber.quit()) },
    ],
    log,
    10_000,
  );
}

main().catch((err) => exitOnStartupError('api', err));
