import { configSchema } from '@pushfleet/config';
import type { PushTransport } from '@pushfleet/core';
import { AppQueues } from '@pushfleet/queue';
import { DeviceRegistry, FleetRateLimiter, Ledger, PauseStore } from '@pushfleet/store';
import { createDeliveryMetrics, createLogger } from '@pushfleet/telemetry';
import { FakeTransport } from '@pushfleet/testkit';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { type AppWorkerDeps, startAppWorkers } from '../src/app-workers.ts';
import { PauseController } from '../src/pauses.ts';

export interface InProcessWorkerOptions {
  /** A worker-role connection (`createRedis(url, 'worker')`). */
  redis: Redis;
  prefix: string;
  apps: string[];
  /** What APNs answers; accepts everything by default. */
  transport?: PushTransport;
  /** Merged over the worker config defaults (e.g. `{ concurrency: 2, lockDurationMs: 1000 }`). */
  worker?: Record<string, unknown>;
  logLevel?: string;
  fanoutTuning?: AppWorkerDeps['fanoutTuning'];
}

export interface InProcessWorker {
  workers: Worker[];
  transport: PushTransport;
  close(): Promise<void>;
}

/**
 * The worker's real job processors (deliver and fan-out, the ledger, retries, pauses) in this
 * process, with a fake APNs: for API and ledger tests that need delivery without a simulator.
 */
export async function startInProcessWorker(options: InProcessWorkerOptions): Promise<InProcessWorker> {
  const config = configSchema.parse({
    redis: { prefix: options.prefix },
    apps: Object.fromEntries(
      options.apps.map((app) => [
        app,
        {
          bundleId: `com.example.${app}`,
          environments: ['sandbox', 'production'],
          credentials: { type: 'token', keyFile: '/dev/null', keyId: 'K', teamId: 'T' },
        },
      ]),
    ),
    worker: { concurrency: 4, ...options.worker },
  });
  const { redis, prefix } = options;
  const log = createLogger({ name: 'worker', level: options.logLevel ?? 'silent' });
  const metrics = createDeliveryMetrics(new Registry());
  const transport = options.transport ?? new FakeTransport();
  const pauses = new PauseController({
    store: new PauseStore(redis, prefix),
    metrics,
    log,
    pauseMs: config.worker.credentialsPauseMs,
    onPause: async () => undefined,
  });
  await pauses.start();
  const queues = new AppQueues(redis, prefix);
  let closing = false;
  const workers = startAppWorkers(options.apps, {
    config,
    redis,
    ledger: new Ledger(redis, prefix),
    queues,
    registry: new DeviceRegistry(redis, prefix),
    transportFor: async () => transport,
    appConfig: (app) => config.apps[app],
    pauses,
    limiter: new FleetRateLimiter(redis, prefix),
    metrics,
    log,
    closing: () => closing,
    ...(options.fanoutTuning && { fanoutTuning: options.fanoutTuning }),
  });
  let closed: Promise<void> | undefined;
  return {
    workers,
    transport,
    close() {
      closed ??= (async () => {
        closing = true;
        await Promise.all(workers.map((w) => w.close()));
        pauses.stop();
        await queues.close();
      })();
      return closed;
    },
  };
}
