import type { Config } from '@pushfleet/config';
import { type AppQueueName, AppQueues, connectRedis, createRedis } from '@pushfleet/queue';
import {
  ActivityStore,
  DeviceRegistry,
  FleetRateLimiter,
  Ledger,
  loadKeyEncryptionKey,
  openLoggedAppDirectory,
  PauseStore,
} from '@pushfleet/store';
import { type Closable, createDeliveryMetrics, type Logger } from '@pushfleet/telemetry';
import type { Registry } from 'prom-client';
import { type AppWorkerDeps, jobProcessor, startAppWorker } from './app-workers.ts';
import { AppAttachments } from './attachments.ts';
import { PauseController } from './pauses.ts';
import { TransportRegistry } from './transports.ts';

/** One event loop's share of a worker: the apps' queues it runs, with everything they need. */
export interface Lane {
  /**
   * Starts taking jobs: attaches to the apps with work. Apart from the start, so that a process
   * takes no job before all its lanes are up.
   */
  attach(): Promise<void>;
  /** Apps attached now. */
  apps(): string[];
  /** Whether its Redis answers. */
  ready(): Promise<boolean>;
  /** Its parts in the order they close: stop taking jobs (running ones finish) first, Redis last. */
  parts: Closable[];
}

export interface LaneOptions {
  config: Readonly<Config>;
  log: Logger;
  /** Where its delivery metrics go. */
  registry: Registry;
  /** The app queues this lane runs (`deliver`, `express`, or both). */
  queues: readonly AppQueueName[];
}

/**
 * Starts a lane: its own Redis connections, app directory (kept current), APNs connections,
 * pause mirror and BullMQ workers, attached only to apps with work. The worker process runs one
 * lane on its main thread and, by default, the express lane on a thread of its own.
 */
export async function startLane(options: LaneOptions): Promise<Lane> {
  const { config, log, registry } = options;
  const redis = createRedis(config.redis, 'worker');
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  await connectRedis(redis);
  const prefix = config.redis.prefix;
  // Config apps ∪ registry apps, kept current; a wrong or missing key-encryption key stops the start.
  const directory = await openLoggedAppDirectory({
    redis,
    config,
    kek: loadKeyEncryptionKey(config.appRegistry.keyEncryptionKey, process.env),
    log,
  });
  // The gauges read the transports at scrape time; the transports report into the metrics.
  let transports: TransportRegistry | undefined;
  const metrics = createDeliveryMetrics(registry, { inFlight: () => transports?.inFlight() ?? [] });
  transports = new TransportRegistry(config, directory, metrics, log);
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
  const activity = new ActivityStore(redis, prefix);

  // Apps with work now: their connections open before the first job, so it is as fast as the rest.
  const busy = [...(await activity.busy()).keys()].filter((app) => directory.get(app));
  const warm = busy.flatMap((app) =>
    (directory.get(app)?.config.environments ?? []).map((environment) => ({ app, environment })),
  );
  for (const { app, environment, error } of await transports.warm(3000, warm)) {
    log.error({ err: error, app, environment }, 'cannot open APNs connections');
  }

  let closing = false;
  const deps: AppWorkerDeps = {
    config,
    redis,
    ledger,
    queues,
    registry: new DeviceRegistry(redis, prefix),
    transportFor: (app, environment) => transports.get(app, environment),
    appConfig: (app) => directory.get(app)?.config,
    pauses,
    limiter: new FleetRateLimiter(redis, prefix),
    metrics,
    log,
    closing: () => closing,
  };
  const processor = jobProcessor(deps);
  const subscriber = redis.duplicate();
  subscriber.on('error', (err) => log.warn({ err }, 'redis connection error'));
  // A BullMQ worker only for apps with work: connections and idle commands follow busy apps.
  const attachments = new AppAttachments({
    activity,
    subscriber,
    serves: (app) => directory.get(app) !== undefined,
    start: (app) => options.queues.map((name) => startAppWorker(app, deps, processor, name)),
    queues: (app) => queues.appQueues(app),
    log,
    scanMs: config.worker.activityScanMs,
    idleMs: config.worker.idleDetachMs,
  });

  return {
    attach: () => attachments.start(),
    apps: () => attachments.apps(),
    ready: async () => (await redis.ping()) === 'PONG',
    parts: [
      // Stop taking jobs and let in-flight batches finish (fan-outs park) before the connections go.
      {
        name: 'workers',
        close: async () => {
          closing = true;
          await attachments.close();
        },
      },
      { name: 'pauses', close: async () => pauses.stop() },
      { name: 'transports', close: () => transports.close() },
      { name: 'queues', close: () => queues.close() },
      {
        name: 'directory',
        close: () => directory.close(),
      },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
  };
}
