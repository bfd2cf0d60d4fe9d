import { randomUUID } from 'node:crypto';
import { configSchema } from '@pushfleet/config';
import type { DeliverJobData, FanoutJobData, PushTransport, SendResult } from '@pushfleet/core';
import {
  AppQueues,
  appQueueNames,
  appQueuePrefix,
  backoffStrategy,
  createRedis,
  DirectProducer,
  pendingWork,
  settleFailedJob,
} from '@pushfleet/queue';
import { appSpace, DeviceRegistry, FleetRateLimiter, Ledger, ledgerKeys } from '@pushfleet/store';
import { createDeliveryMetrics, createLogger } from '@pushfleet/telemetry';
import { FakeTransport, type FaultPlan, interceptRedis, type RedisFaults, waitFor } from '@pushfleet/testkit';
import { DelayedError, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { type AppWorkerDeps, jobProcessor, startAppWorkers } from '../../apps/worker/src/app-workers.ts';

export const app = 'shop';
export const token = (i: number) => i.toString(16).padStart(64, '0');
export const tokenRange = (n: number, from = 0) => Array.from({ length: n }, (_, i) => token(from + i));

/**
 * One crash case: its own key prefix on a shared Redis, one fake APNs every "process" sends to
 * (so duplicates are counted across processes), and clean connections for the processes that
 * come after the crash.
 */
export interface Rig {
  url: string;
  prefix: string;
  transport: FakeTransport;
  clean: Redis;
  ledger: Ledger;
  producer: DirectProducer;
  close(): Promise<void>;
}

/** A fleet worker's settings, sized so a crashed job is taken over within a couple of seconds. */
export const workerSettings = {
  concurrency: 4,
  lockDurationMs: 1000,
  maxStalledCount: 50,
  maxAttempts: 3,
  checkpointEvery: 100,
  retryBaseMs: 1,
  retryMaxMs: 20,
};

export function appConfig() {
  return configSchema.parse({
    apps: {
      [app]: {
        bundleId: 'com.example.shop',
        environments: ['production'],
        credentials: { type: 'token', keyFile: '/dev/null', keyId: 'K', teamId: 'T' },
      },
    },
    worker: workerSettings,
    api: { maxCampaignTokens: 1_000_000 },
  });
}

export async function rig(url: string, script: (token: string, nth: number) => SendResult): Promise<Rig> {
  const prefix = `crash-${randomUUID().slice(0, 8)}`;
  const clean = createRedis(url, 'worker');
  await clean.connect();
  const ledger = new Ledger(clean, prefix);
  const producer = new DirectProducer({
    connection: clean,
    prefix,
    app: (id) => appConfig().apps[id],
    ledger,
  });
  return {
    url,
    prefix,
    transport: new FakeTransport(script),
    clean,
    ledger,
    producer,
    async close() {
      await producer.close();
      clean.disconnect();
    },
  };
}

/** What a worker process is built from, on a given connection (the harness's own deps). */
function workerDeps(
  r: Rig,
  redis: Redis,
  transport: PushTransport,
  fanoutTuning?: AppWorkerDeps['fanoutTuning'],
): AppWorkerDeps {
  const config = appConfig();
  const log = createLogger({ name: 'worker', level: 'silent' });
  return {
    config: { ...config, redis: { ...config.redis, prefix: r.prefix } },
    redis,
    ledger: new Ledger(redis, r.prefix),
    queues: new AppQueues(redis, r.prefix),
    registry: new DeviceRegistry(redis, r.prefix),
    transportFor: async () => transport,
    appConfig: (id) => config.apps[id],
    // Pauses and rate limits are not under test here: no round trips for them.
    pauses: { pausedUntil: () => undefined, pause: async () => Date.now() },
    limiter: new FleetRateLimiter(redis, r.prefix),
    metrics: createDeliveryMetrics(new Registry()),
    log,
    closing: () => false,
    ...(fanoutTuning && { fanoutTuning }),
  };
}

export interface VictimRun {
  calls: number;
  trace: string[];
  died: boolean;
}

/**
 * A worker process that processes the app's queue job by job (BullMQ's manual processing: no
 * timers, so its Redis calls come in a fixed order) until nothing is ready, with one fault
 * injected per the plan. A `die-*` fault ends the process there: its jobs stay locked until
 * the lock expires, as after `kill -9`.
 */
export async function runVictimWorker(
  r: Rig,
  plan: FaultPlan | undefined,
  fanoutTuning?: AppWorkerDeps['fanoutTuning'],
): Promise<VictimRun> {
  const conn = createRedis(r.url, 'worker');
  await conn.connect();
  const faults = interceptRedis(conn);
  const deps = workerDeps(r, faults.redis, r.transport, fanoutTuning);
  const processor = jobProcessor(deps);
  // Both of the app's queues, taken from in a fixed order (deliver first, then express).
  const workers = appQueueNames.map(
    (name) =>
      new Worker<DeliverJobData | FanoutJobData>(name, null, {
        connection: faults.redis,
        prefix: appQueuePrefix(r.prefix, app),
        lockDuration: workerSettings.lockDurationMs,
        autorun: false,
        skipStalledCheck: true,
        skipLockRenewal: true,
        settings: { backoffStrategy },
      }),
  );
  for (const worker of workers) await worker.waitUntilReady();
  for (const queue of deps.queues.appQueues(app)) await queue.waitUntilReady();
  if (plan) faults.arm(plan);
  const start = faults.calls;
  const lockToken = randomUUID();
  const nextJob = async () => {
    for (const worker of workers) {
      const job = await worker.getNextJob(lockToken, { block: false });
      if (job) return job;
    }
    return undefined;
  };
  for (let guard = 0; guard < 500 && !faults.dead; guard++) {
    let job: Awaited<ReturnType<typeof nextJob>>;
    try {
      job = await nextJob();
    } catch {
      continue;
    }
    if (!job) break;
    try {
      const result = await processor(job, lockToken);
      await job.moveToCompleted(result, lockToken, false);
    } catch (err) {
      if (err instanceof DelayedError || faults.dead) continue;
      await job.moveToFailed(err as Error, lockToken, false).catch(() => undefined);
    }
  }
  const run = { calls: faults.calls - start, trace: faults.trace.slice(start), died: faults.dead };
  await stopProcess(faults, workers, deps.queues);
  return run;
}

/** Ends a "process": its connections go (a dead one's work stays as Redis has it). */
export async function stopProcess(
  faults: RedisFaults,
  workers: Worker[] = [],
  queues?: AppQueues,
): Promise<void> {
  faults.disconnect();
  for (const worker of workers) void worker.close(true).catch(() => undefined);
  void queues?.close().catch(() => undefined);
}

/**
 * The fleet after the crash: a normal worker (stalled-job take-over, retries) runs until every
 * record in `ids` is finished and the queue is empty, then the scheduler's sweep settles any job
 * BullMQ failed for good.
 */
export async function resumeFleet(
  r: Rig,
  ids: string[],
  fanoutTuning?: AppWorkerDeps['fanoutTuning'],
  timeoutMs = 20_000,
): Promise<void> {
  const conn = createRedis(r.url, 'worker');
  await conn.connect();
  const deps = workerDeps(r, conn, r.transport, fanoutTuning);
  const workers = startAppWorkers([app], deps);
  const queues = appQueueNames.map(
    (name) => new Queue(name, { connection: conn, prefix: appQueuePrefix(r.prefix, app) }),
  );
  try {
    await waitFor(
      'every record finished and the queues empty',
      async () => {
        const work = await pendingWork(queues);
        if (work.ready + work.active + work.delayed > 0) return false;
        const states = await Promise.all(ids.map((id) => finished(r, id)));
        return states.every(Boolean);
      },
      { timeoutMs, intervalMs: 50 },
    );
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    for (const queue of queues) {
      for (const job of await queue.getFailed()) await settleFailedJob(r.ledger, job);
      await queue.close();
    }
    await deps.queues.close();
    conn.disconnect();
  }
}

/** Whether a record is finished: every accepted token has an outcome and no fan-out is pending. */
export async function finished(r: Rig, id: string): Promise<boolean> {
  const hash = await r.clean.hgetall(ledgerKeys.record(appSpace(r.prefix, app), id));
  if (!hash.app) return false;
  const n = (f: string) => Number(hash[f] ?? 0);
  const settled = n('delivered') + n('rejected') + n('failed') + n('expired') + n('cancelled');
  return hash.fanoutDone !== '0' && settled >= n('accepted');
}

/** Every token the record's report lists, with how it ended. */
export async function reportedTokens(r: Rig, id: string): Promise<Map<string, string[]>> {
  const space = appSpace(r.prefix, app);
  const out = new Map<string, string[]>();
  const add = (token: string, how: string) => out.set(token, [...(out.get(token) ?? []), how]);
  for (const entry of await r.clean.lrange(ledgerKeys.report(space, id), 0, -1)) {
    const [outcome, reason, , list] = entry.split('\t');
    for (const t of list!.split(',')) add(t, `${outcome}:${reason}`);
  }
  const tail = await r.clean.hget(ledgerKeys.record(space, id), 'reportTail');
  if (tail) {
    for (const t of await r.clean.lrange(ledgerKeys.reportTail(space, id), 0, -1))
      add(t, tail.replace('\t', ':'));
  }
  return out;
}

export async function recordOf(r: Rig, id: string): Promise<Record<string, string>> {
  return r.clean.hgetall(ledgerKeys.record(appSpace(r.prefix, app), id));
}

/** A seeded pseudo-random generator (mulberry32), for PF_HEAVY's random cases. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `cases` with at most `width` at once (each case mostly waits for lock expiry). */
export async function inParallel<T>(cases: T[], width: number, run: (c: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        await run(c).catch((err) => errors.push(err));
      }
    }),
  );
  if (errors.length > 0) throw errors[0];
}
