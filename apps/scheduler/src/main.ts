import { hostname } from 'node:os';
import { credentialNotAfter } from '@pushfleet/apns';
import { type AppDirectory, loadConfig } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import {
  appQueueRefs,
  connectRedis,
  createRedis,
  fleetQueuePrefix,
  fleetQueueRef,
  registerQueueDepthMetrics,
} from '@pushfleet/queue';
import {
  FeedbackFeed,
  FeedbackProcessor,
  Ledger,
  loadKeyEncryptionKey,
  openLoggedAppDirectory,
} from '@pushfleet/store';
import {
  createLogger,
  createSchedulerMetrics,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
  startOpsServer,
} from '@pushfleet/telemetry';
import { Queue, Worker } from 'bullmq';
import { Registry } from 'prom-client';
import type { SchedulerContext } from './context.ts';
import { CredentialExpiry } from './credential-expiry.ts';
import { runFeedbackPoll } from './feedback-poll.ts';
import { runHousekeeping } from './housekeeping.ts';
import { runLegacyFeedbackPoll } from './legacy-feedback-poll.ts';
import { type ScheduledJobName, schedulerQueueName, upsertJobSchedulers } from './scheduled-jobs.ts';
import { runStaleTokenSweep } from './stale-token-sweep.ts';
import { type WebhookJobData, type WebhookTarget, webhooksQueueName } from './webhook-queue.ts';
import { startWebhookWorker } from './webhook-worker.ts';

/**
 * Apps with a webhook, secrets resolved here, at the edge (packages never read process.env).
 * Read per run: apps come and go at run time. A config app's missing secret stops the start.
 */
function webhookTargets(directory: AppDirectory): Map<string, WebhookTarget> {
  const targets = new Map<string, WebhookTarget>();
  for (const app of directory.ids()) {
    const hook = directory.get(app)?.config.feedback?.webhook;
    if (!hook) continue;
    const secret = hook.secret ?? (hook.secretEnv ? process.env[hook.secretEnv] : undefined);
    if (!secret) {
      throw new PushfleetError('PF_ERR_CONFIG', `webhook secret variable ${hook.secretEnv} is not set`, {
        field: `apps.${app}.feedback.webhook.secretEnv`,
      });
    }
    const { url, batchSize, maxAttempts, backoffMs, timeoutMs } = hook;
    targets.set(app, { url, secret, batchSize, maxAttempts, backoffMs, timeoutMs });
  }
  return targets;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'scheduler', level: config.log.level });
  const kek = loadKeyEncryptionKey(config.appRegistry.keyEncryptionKey, process.env);
  const redis = createRedis(config.redis, 'worker');
  const registry = new Registry();
  enableProcessMetrics(registry);
  // The ops port first: a second scheduler on the same host fails here, before it runs anything.
  const ops = await startOpsServer({
    host: config.scheduler.host,
    port: config.scheduler.port,
    portField: 'scheduler.port',
    registry,
    ready: async () => (await redis.ping()) === 'PONG',
  });
  await connectRedis(redis);
  const prefix = config.redis.prefix;
  // Config apps ∪ registry apps, kept current; a wrong or missing key-encryption key stops the start.
  const directory = await openLoggedAppDirectory({
    redis,
    config,
    kek: kek,
    log,
  });
  const webhooks = () => webhookTargets(directory);
  const startupWebhooks = webhooks(); // a config app's missing secret stops the start here

  const processor = new FeedbackProcessor(redis, prefix, {
    consumer: `${hostname()}-${process.pid}`,
    claimIdleMs: config.scheduler.feedbackClaimIdleMs,
    apps: () => directory.ids(),
    isKnownApp: (app) => directory.get(app) !== undefined,
  });
  const metrics = createSchedulerMetrics(registry, { feedbackLagSeconds: () => processor.lagSeconds() });

  const fleetPrefix = fleetQueuePrefix(prefix);
  const queue = new Queue(schedulerQueueName, { connection: redis, prefix: fleetPrefix });
  const webhookQueue = new Queue<WebhookJobData>(webhooksQueueName, {
    connection: redis,
    prefix: fleetPrefix,
  });
  // Without listeners BullMQ prints raw errors to stderr: logs must stay JSON during an outage.
  queue.on('error', (err) => log.warn({ err }, 'scheduler queue error'));
  webhookQueue.on('error', (err) => log.warn({ err }, 'webhook queue error'));
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  const ctx: SchedulerContext = {
    redis,
    prefix,
    config,
    log,
    metrics,
    processor,
    ledger: new Ledger(redis, prefix),
    feed: new FeedbackFeed(redis, prefix),
    webhookQueue,
    directory,
    webhooks,
    now: Date.now,
  };
  await upsertJobSchedulers(queue, config);

  const jobs: Record<ScheduledJobName, () => Promise<unknown>> = {
    'feedback-poll': () => runFeedbackPoll(ctx),
    'legacy-feedback-poll': () => runLegacyFeedbackPoll(ctx),
    'stale-token-sweep': () => runStaleTokenSweep(ctx),
    housekeeping: () => runHousekeeping(ctx),
  };
  const workerConnection = redis.duplicate();
  workerConnection.on('error', (err) => log.warn({ err }, 'redis connection error'));
  const worker = new Worker(
    schedulerQueueName,
    async (job) => {
      const run = jobs[job.name as ScheduledJobName];
      if (!run) return; // a scheduler a newer release added; it will be handled there
      const end = metrics.runDuration.startTimer({ schedule: job.name });
      try {
        await run();
        metrics.runs.inc({ schedule: job.name, result: 'ok' });
      } catch (err) {
        metrics.runs.inc({ schedule: job.name, result: 'error' });
        log.error({ err, job: job.name }, 'scheduled job failed');
        throw err;
      } finally {
        end();
      }
    },
    { connection: workerConnection, prefix: fleetPrefix, concurrency: 1 },
  );
  worker.on('error', (err) => log.error({ err }, 'scheduler worker error'));
  const webhookWorker = startWebhookWorker(ctx);

  // Queue depth for the backlog alert, the dashboard and KEDA: one exporter for the fleet.
  const queueDepth = registerQueueDepthMetrics(
    registry,
    redis,
    () => [
      ...directory.ids().flatMap((app) => appQueueRefs(prefix, app)),
      fleetQueueRef(prefix, webhooksQueueName),
    ],
    (err) => log.warn({ err }, 'queue depth metrics: queue error'),
  );

  const expiry = new CredentialExpiry({
    directory,
    gauge: metrics.credentialExpiry,
    notAfter: credentialNotAfter,
    log,
    // Certificates last a year and the alerts look 30 and 7 days ahead: a quarter hour is plenty.
    rescanMs: 15 * 60_000,
  });
  await expiry.start();

  log.info({ port: ops.port, webhooks: startupWebhooks.size }, 'scheduler ready');

  onShutdownSignal(
    [
      { name: 'worker', close: () => worker.close().finally(() => workerConnection.disconnect()) },
      { name: 'webhook-worker', close: () => webhookWorker.close() },
      { name: 'queue', close: () => queue.close() },
      { name: 'webhook-queue', close: () => webhookQueue.close() },
      { name: 'credential-expiry', close: () => expiry.close() },
      {
        name: 'directory',
        close: () => directory.close(),
      },
      { name: 'ops', close: () => ops.close() },
      { name: 'queue-depth', close: () => queueDepth.close() },
      { name: 'redis', close: async () => void (await redis.quit()) },
    ],
    log,
    15_000,
  );
}

main().catch((err) => exitOnStartupError('scheduler', err));
