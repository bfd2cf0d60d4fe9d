import { loadConfig } from '@pushfleet/config';
import type { DeliverJobData } from '@pushfleet/core';
import { connectRedis, createRedis, DeliverProducer, deliverQueueName } from '@pushfleet/queue';
import { AppStateStore, FleetRateLimiter, OutcomeRecorder } from '@pushfleet/store';
import {
  createDeliveryMetrics,
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
  startOpsServer,
} from '@pushfleet/telemetry';
import { Worker } from 'bullmq';
import { Registry } from 'prom-client';
import { AppPauseController } from './app-pause.ts';
import { processDeliverJob } from './deliver-job.ts';
import { startFanoutWorker } from './fanout/index.ts';
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
  await connectRedis(redis);
  const producer = new DeliverProducer(redis, config.redis.prefix);
  const apps = Object.keys(config.apps);
  const pauses = new AppPauseController(apps, {
    state: new AppStateStore(redis, config.redis.prefix),
    producer,
    metrics,
    log,
    resetTransports: (app) => transports.reset(app),
    pauseMs: config.worker.credentialsPauseMs,
  });
  pauses.start();
  const deps = {
    transportFor: (app: string, env: DeliverJobData['environment']) => transports.get(app, env),
    recorder: new OutcomeRecorder(redis, config.redis.prefix),
    producer,
    pauses,
    limiter: new FleetRateLimiter(redis, config.redis.prefix),
    rateLimitFor: (app: string) => config.apps[app]?.rateLimitPerSecond,
    metrics,
    log,
    maxAttempts: config.worker.maxAttempts,
    checkpointEvery: config.worker.checkpointEvery,
    backoff: { baseMs: config.worker.retryBaseMs, maxMs: config.worker.retryMaxMs },
  };

  // Connections are open before the first job arrives, so the first notifications are as fast as the rest.
  for (const { app, environment, error } of await transports.warm(3000)) {
    log.error({ err: error, app, environment }, 'cannot open APNs connections');
  }

  // Every worker drains every app's queue, so apps never wait behind each other.
  const workers = apps.map(
    (app) =>
      new Worker<DeliverJobData>(deliverQueueName(app), (job, token) => processDeliverJob(job, token, deps), {
        connection: redis.duplicate(),
        prefix: config.redis.prefix,
        concurrency: config.worker.concurrency,
        lockDuration: config.worker.lockDurationMs,
        stalledInterval: config.worker.lockDurationMs,
      }),
  );
  for (const worker of workers) {
    worker.on('failed', (job, err) => log.error({ err, jobId: job?.id }, 'deliver job failed'));
    worker.on('error', (err) => log.error({ err }, 'worker error'));
  }

  // Campaign fan-out: expands audiences into deliver batches (resumable, paced, back-pressured).
  const fanout = startFanoutWorker({ redis, prefix: config.redis.prefix, log });

  const ops = await startOpsServer({
    host: config.worker.host,
    port: config.worker.port,
    registry,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  log.info({ port: ops.port, apps: Object.keys(config.apps) }, 'worker ready');

  onShutdownSignal(
    [
      // Stop taking jobs and let in-flight batches finish before the connections go.
      { name: 'workers', close: async () => void (await Promise.all(workers.map((w) => w.close()))) },
      { name: 'fanout', close: () => fanout.close() },
      { name: 'pauses', close: async () => pauses.stop() },
      { name: 'transports', close: () => transports.close() },
      { name: 'producer', close: () => producer.close() },
      { name: 'ops', close: () => ops.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    config.worker.shutdownGraceMs,
  );
}

main().catch((err) => exitOnStartupError('worker', err));
