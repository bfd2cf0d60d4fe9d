import { loadConfig } from '@pushfleet/config';
import { connectRedis, createRedis } from '@pushfleet/queue';
import {
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
  startOpsServer,
} from '@pushfleet/telemetry';
import { Queue, Worker } from 'bullmq';
import { Counter, Registry } from 'prom-client';
import { runHousekeeping } from './housekeeping.ts';

const schedulerQueue = 'scheduler';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'scheduler', level: config.log.level });
  const registry = new Registry();
  enableProcessMetrics(registry);
  const runs = new Counter({
    name: 'pushfleet_scheduled_runs_total',
    help: 'Scheduled job runs by job and result.',
    labelNames: ['job', 'result'] as const,
    registers: [registry],
  });

  const redis = createRedis(config.redis.url, 'worker');
  await connectRedis(redis);
  const apps = Object.keys(config.apps);

  // Job schedulers live in Redis: with several scheduler replicas each run still happens once.
  const queue = new Queue(schedulerQueue, { connection: redis, prefix: config.redis.prefix });
  await queue.upsertJobScheduler('housekeeping', { every: 10 * 60_000 }, { name: 'housekeeping' });

  const worker = new Worker(
    schedulerQueue,
    async (job) => {
      try {
        if (job.name === 'housekeeping') await runHousekeeping(redis, config.redis.prefix, apps, log);
        runs.inc({ job: job.name, result: 'ok' });
      } catch (err) {
        runs.inc({ job: job.name, result: 'error' });
        throw err;
      }
    },
    { connection: redis.duplicate(), prefix: config.redis.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => log.error({ err }, 'scheduler worker error'));

  const ops = await startOpsServer({
    host: config.scheduler.host,
    port: config.scheduler.port,
    registry,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  log.info({ port: ops.port }, 'scheduler ready');

  onShutdownSignal(
    [
      { name: 'worker', close: () => worker.close() },
      { name: 'queue', close: () => queue.close() },
      { name: 'ops', close: () => ops.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    15_000,
  );
}

main().catch((err) => exitOnStartupError('scheduler', err));
