import { randomUUID } from 'node:crypto';
import { type Config, configDirectory, configSchema } from '@pushfleet/config';
import { fleetQueuePrefix } from '@pushfleet/queue';
import { FeedbackFeed, FeedbackProcessor, Ledger, storeKeys } from '@pushfleet/store';
import { createLogger, createSchedulerMetrics } from '@pushfleet/telemetry';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { SchedulerContext } from '../../apps/scheduler/src/context.ts';
import {
  type WebhookJobData,
  type WebhookTarget,
  webhooksQueueName,
} from '../../apps/scheduler/src/webhook-queue.ts';

export const credentials = { type: 'token', keyFile: '/dev/null', keyId: 'K', teamId: 'T' } as const;

/** A parsed config for in-process tests: apps `a` and `b` (sandbox + production) unless given. */
export function testConfig(prefix: string, url: string, extra: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    redis: { url, prefix },
    apps: {
      a: { bundleId: 'com.example.a', environments: ['sandbox', 'production'], credentials },
      b: { bundleId: 'com.example.b', environments: ['sandbox'], credentials },
    },
    ...extra,
  });
}

export interface Harness {
  ctx: SchedulerContext;
  redis: Redis;
  prefix: string;
  registry: Registry;
  /** A processor with its own consumer name (another "replica"). */
  processor(consumer: string, claimIdleMs?: number): FeedbackProcessor;
  /** Adds raw events to the feedback stream as the delivery worker does. */
  /** Adds raw events to their app's stream (or `streamApp`'s: an event that names another app). */
  publish(events: Record<string, string | number>[], streamApp?: string): Promise<string[]>;
  close(): Promise<void>;
}

/** In-process scheduler context on a fresh prefix (BullMQ connections need `maxRetriesPerRequest: null`). */
export async function harness(
  url: string,
  options: {
    config?: Record<string, unknown>;
    webhooks?: Map<string, WebhookTarget>;
    now?: () => number;
  } = {},
): Promise<Harness> {
  const prefix = `test-${randomUUID()}`;
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const config = testConfig(prefix, url, options.config);
  const isKnownApp = (app: string) => Object.hasOwn(config.apps, app);
  const processor = (consumer: string, claimIdleMs = 60_000) =>
    new FeedbackProcessor(redis, prefix, {
      consumer,
      claimIdleMs,
      apps: () => Object.keys(config.apps),
      isKnownApp,
      batchSize: 100,
    });
  const registry = new Registry();
  const main = processor('main');
  const webhookQueue = new Queue<WebhookJobData>(webhooksQueueName, {
    connection: redis,
    prefix: fleetQueuePrefix(prefix),
  });
  const ctx: SchedulerContext = {
    redis,
    prefix,
    config,
    log: createLogger({ name: 'test', level: 'silent' }),
    metrics: createSchedulerMetrics(registry, { feedbackLagSeconds: () => main.lagSeconds() }),
    processor: main,
    ledger: new Ledger(redis, prefix),
    feed: new FeedbackFeed(redis, prefix),
    webhookQueue,
    directory: configDirectory(config),
    webhooks: () => options.webhooks ?? new Map(),
    now: options.now ?? Date.now,
  };
  return {
    ctx,
    redis,
    prefix,
    registry,
    processor,
    async publish(events, streamApp) {
      const pipeline = redis.pipeline();
      for (const e of events) {
        const stream = storeKeys.feedbackStream(prefix, streamApp ?? String(e.app));
        pipeline.xadd(stream, '*', ...Object.entries(e).flat().map(String));
      }
      const results = (await pipeline.exec()) ?? [];
      return results.map(([, id]) => id as string);
    },
    async close() {
      await webhookQueue.close();
      const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`{${prefix}}:*`))];
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** Value of one counter series, or 0. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}
