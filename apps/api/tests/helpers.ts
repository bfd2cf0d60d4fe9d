import { randomUUID } from 'node:crypto';
import { configSchema } from '@pushfleet/config';
import { AppQueues, createRedis, pendingWork } from '@pushfleet/queue';
import { openAppDirectory, type RedisAppDirectory } from '@pushfleet/store';
import { createApiMetrics, createLogger, type Logger } from '@pushfleet/telemetry';
import { interceptRedis, type RedisFaults, type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { startInProcessWorker } from '../../worker/tests/in-process-worker.ts';
import type { ChannelClients } from '../src/channel-clients.ts';
import { buildApi } from '../src/server.ts';

export interface TestApi {
  api: FastifyInstance;
  redis: Redis;
  prefix: string;
  queues: AppQueues;
  /** The api's own Redis connection goes through this proxy (crash points, lost replies). */
  faults: RedisFaults;
  /** With `options.registry`: the api's app directory (config ∪ registry apps). */
  directory?: RedisAppDirectory;
  /** Jobs waiting in the app's queue (any state but completed/failed). */
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
  options: {
    redisServer?: StartedRedis;
    now?: () => number;
    /** Serve registry apps as main.ts does (`openAppDirectory`), with this key-encryption key. */
    registry?: { kek?: Buffer; pollMs?: number };
    config?: Record<string, unknown>;
    /** Where the api logs (default: nowhere). */
    log?: Logger;
    /** Share another test api's key prefix (a second replica); default: a fresh one. */
    prefix?: string;
    /** APNs' channel-management API (default: HTTP/2 clients to the apps' endpoints). */
    channelClients?: ChannelClients;
  } = {},
): Promise<TestApi> {
  const server = options.redisServer ?? (await startRedis());
  const prefix = options.prefix ?? `test-${randomUUID()}`;
  const redis = createRedis(server.url, 'producer');
  await redis.connect();
  const faults = interceptRedis(redis);
  const config = configSchema.parse({
    redis: { url: server.url, prefix },
    apps: { demo: demoApp, other: { ...demoApp, bundleId: 'com.example.other' } },
    api,
    ...options.config,
  });
  // The change channel's own connection (a worker-role one: it waits out outages and resubscribes).
  const subscriber = options.registry ? createRedis(server.url, 'worker') : undefined;
  const directory = options.registry
    ? await openAppDirectory({
        redis,
        subscriber: subscriber!,
        prefix,
        config,
        kek: options.registry.kek,
        pollMs: options.registry.pollMs ?? 200,
      })
    : undefined;
  const registry = new Registry();
  const instance = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: options.log ?? createLogger({ name: 'api-test', level: 'silent' }),
    ready: async () => true,
    ...(options.now ? { now: options.now } : {}),
    ...(directory ? { directory, kek: options.registry?.kek } : {}),
    ...(options.channelClients && { channelClients: options.channelClients }),
  });
  await instance.ready();
  const queues = new AppQueues(redis, prefix);
  return {
    api: instance,
    redis,
    prefix,
    queues,
    faults,
    ...(directory ? { directory } : {}),
    /** Jobs not finished in both of the app's queues. */
    async queuedJobs(app = 'demo') {
      const work = await pendingWork(queues.appQueues(app));
      return work.ready + work.active + work.delayed;
    },
    async close() {
      await instance.close();
      await queues.close();
      subscriber?.disconnect();
      redis.disconnect();
      if (!options.redisServer) await server.stop();
    },
  };
}

export const token = (n: number) => n.toString(16).padStart(64, '0');

/**
 * The worker's real processors in this process (fan-out, delivery, ledger) with a fake APNs
 * that accepts everything: every token delivered, or counted cancelled after a cancel.
 */
export async function startFakeDelivery(redis: Redis, prefix: string, apps = ['demo', 'other']) {
  return startInProcessWorker({ redis, prefix, apps });
}

/** Drops every job of both of the app's queues (no worker runs in these tests). */
export async function emptyAppQueues(queues: AppQueues, app: string): Promise<void> {
  for (const queue of queues.appQueues(app)) await queue.obliterate({ force: true });
}
