import { loadConfig } from '@pushfleet/config';
import { AppQueues, connectRedis, createRedis } from '@pushfleet/queue';
import { DeviceRegistry, FleetRateLimiter, Ledger, PauseStore } from '@pushfleet/store';
import {
  createDeliveryMetrics,
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
  startOpsServer,
} from '@pushfleet/telemetry';
import { Registry } from 'prom-client';
import { startAppWorkers } from './app-workers.ts';
import { PauseController } from './pauses.ts';
import { TransportRegistry } from './transports.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'worker', level: config.log.level });
  const registry = new Registry();
  enableProcessMetrics(registry);
  // The gauge reads the transports at scrape time; the transports report into the metrics.
  let transports: TransportRegistry | undefined;
  const metrics = createDeliveryMetrics(registry, { inFlight: () => transports?.inFlight() ?? [] });
  transports = new TransportRegistry(config, metrics, log);

  const redis = createRedis(config.redis, 'worker');
  // The ops port first: a second worker on the same host fails here, before it takes any job.
  const ops = await startOpsServer({
    host: config.worker.host,
    port: config.worker.port,
    portField: 'worker.port',
    registry,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(redis);
  const prefix = config.redis.prefix;
  const ledger = new Ledger(redis, prefix);
  const queues = new AppQueues(redis, prefix, (err, app) => log.warn({ err, app }, 'queue error'));
  const pauses = new PauseController({
    store: new PauseStore(redis, prefix),
    metrics,
    log,
    pauseMs: config.worker.credentialsPauseMs,
    // New connections for the probe; in-flight requests finish on the old ones.
    onPause: (app, environment) => transports.reset(app, environment),
  });
  await pauses.start();

  // Connections are open before the first job arrives, so the first notifications are as fast as the rest.
  for (const { app, environment, error } of await transports.warm(3000)) {
    log.error({ err: error, app, environment }, 'cannot open APNs connections');
  }

  let closing = false;
  // Every worker drains every app's queue, so apps never wait behind each other.
  const workers = startAppWorkers(Object.keys(config.apps), {
    config,
    redis,
    ledger,
    queues,
    registry: new DeviceRegistry(redis, prefix),
    transportFor: (app, environment) => transports.get(app, environment),
    pauses,
    limiter: new FleetRateLimiter(redis, prefix),
    metrics,
    log,
    closing: () => closing,
  });

  log.info({ port: ops.port, apps: Object.keys(config.apps) }, 'worker ready');

  onShutdownSignal(
    [
      // Stop taking jobs and let in-flight batches finish (fan-outs park) before the connections go.
      {
        name: 'workers',
        close: async () => {
          closing = true;
          await Promise.all(workers.map((w) => w.close()));
        },
      },
      { name: 'pauses', close: async () => pauses.stop() },
      { name: 'transports', close: () => transports.close() },
      { name: 'queues', close: () => queues.close() },
      { name: 'ops', close: () => ops.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    config.worker.shutdownGraceMs,
  );
}

main().catch((err) => exitOnStartupError('worker', err));
