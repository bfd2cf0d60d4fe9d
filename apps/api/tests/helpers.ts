import { randomUUID } from 'node:crypto';
import { configSchema } from '@pushfleet/config';
import type { DeliverJobData } from '@pushfleet/core';
import { createRedis, DeliverProducer, deliverQueueName } from '@pushfleet/queue';
import { emptyOutcomeCounts, OutcomeRecorder } from '@pushfleet/store';
import { createApiMetrics, createLogger } from '@pushfleet/telemetry';
import { type StartedRedis, startRedis } from '@pushfleet/testkit';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { buildApi } from '../src/server.ts';

export interface TestApi {
  api: FastifyInstance;
  redis: Redis;
  prefix: string;
  deliver: DeliverProducer;
  /** Jobs waiting in the app's deliver queue (any state but completed/failed). */
  queuedJobs(app?: string): Promise<number>;
  close(): Promise<void>;
}

export const demoApp = {
  bundleId: 'com.example.demo',
  environments: ['sandbox'],
  credentials: { type: 'token', keyFile: '/dev/null', keyId: 'K', teamId: 'T' },
};

/** The api in-process (inject) over a real Redis, with a fresh key prefix. */
export async function startTestApi(
  api: Record<string, unknown> = {},
  options: { redisServer?: StartedRedis; now?: () => number } = {},
): Promise<TestApi> {
  const server = options.redisServer ?? (await startRedis());
  const prefix = `test-${randomUUID()}`;
  const redis = createRedis(server.url, 'producer');
  await redis.connect();
  const config = configSchema.parse({
    redis: { url: server.url, prefix },
    apps: { demo: demoApp, other: { ...demoApp, bundleId: 'com.example.other' } },
    api,
  });
  const registry = new Registry();
  const instance = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: createLogger({ name: 'api-test', level: 'silent' }),
    ready: async () => true,
    ...(options.now ? { now: options.now } : {}),
  });
  await instance.ready();
  const deliver = new DeliverProducer(redis, prefix);
  return {
    api: instance,
    redis,
    prefix,
    deliver,
    async queuedJobs(app = 'demo') {
      const counts = await deliver
        .queueFor(app)
        .getJobCounts('wait', 'delayed', 'prioritized', 'active', 'waiting-children');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      await instance.close();
      await deliver.close();
      redis.disconnect();
      if (!options.redisServer) await server.stop();
    },
  };
}

export const token = (n: number) => n.toString(16).padStart(64, '0');

/**
 * What the delivery worker does, minus APNs: every token delivered, or counted cancelled when
 * the notification/campaign was cancelled (the worker's `cancelledAt` check).
 */
export function startFakeDelivery(redis: Redis, prefix: string, app = 'demo'): { close(): Promise<void> } {
  const recorder = new OutcomeRecorder(redis, prefix);
  const connection = redis.duplicate();
  const worker = new Worker<DeliverJobData>(
    deliverQueueName(app),
    async (job) => {
      const counts = emptyOutcomeCounts();
      const cancelled = await recorder.isCancelled(job.data.notificationId);
      counts[cancelled ? 'cancelled' : 'delivered'] = job.data.tokens.length;
      await recorder.record({
        notificationId: job.data.notificationId,
        applyId: job.id!,
        app: job.data.app,
        environment: job.data.environment,
        counts,
      } as Parameters<OutcomeRecorder['record']>[0]);
    },
    { connection, prefix, concurrency: 4 },
  );
  return {
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}
