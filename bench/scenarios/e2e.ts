// e2e: a campaign of N tokens queued in Redis (direct enqueue), drained by W worker processes
// (the esbuild bundles, as in production) into the simulator in fast mode; compared in the same
// run with the bare node-apn loop to the same sink.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverBatchSize, notificationSchema, prepareNotification } from '@pushfleet/core';
import { DirectProducer, maxBatchesPerTransaction } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import {
  generateProviderKey,
  randomDeviceTokens,
  repoRoot,
  spawnRedisServer,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';
import { peakRssBytes, processCpuMicros } from '../lib/proc-stats.ts';
import { nginxBinary, nginxSink, simulatorSink } from '../lib/sinks.ts';
import { runContender } from './transport.ts';

async function queueCampaign(
  redis: Redis,
  prefix: string,
  app: string,
  environment: 'sandbox',
  count: number,
) {
  const id = randomUUID();
  const prepared = prepareNotification(
    notificationSchema.parse({
      alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
      sound: 'default',
    }),
    'com.example.pushfleet.demo',
  );
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: () => ({ bundleId: 'com.example.pushfleet.demo', environments: [environment] }),
    ledger: new Ledger(redis, prefix),
  });
  const memoryBefore = Number((await redis.info('memory')).match(/used_memory:(\d+)/)![1]);
  // Chunks that fit one transaction: the batches are queued before the workers start.
  const chunk = maxBatchesPerTransaction * deliverBatchSize;
  for (let sent = 0; sent < count; sent += chunk) {
    const tokens = randomDeviceTokens(Math.min(chunk, count - sent));
    await producer.enqueueNotification({ id: `${id}-${sent / chunk}`, app, environment, prepared, tokens });
  }
  const memoryAfter = Number((await redis.info('memory')).match(/used_memory:(\d+)/)![1]);
  await producer.close();
  const ids = Array.from({ length: Math.ceil(count / chunk) }, (_, i) => `${id}-${i}`);
  return { ids, bytesPerQueuedToken: (memoryAfter - memoryBefore) / count };
}

/** `apns-sim`: the validating simulator (its flags from `simulatorArgs`), as the --rtt runs use it. */
export type E2eSinkName = 'apns-sim fast' | 'apns-sim' | 'nginx';

export async function runFleet(workers: number, count: number, sinkName: E2eSinkName, options: E2eOptions) {
  const redisServer = await spawnRedisServer();
  const redis = new Redis(redisServer.url);
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  // The stack always starts a simulator; with nginx as the sink it stays idle.
  const sink = sinkName === 'nginx' ? await nginxSink() : undefined;
  const stack = await startStack({
    redisUrl: redisServer.url,
    prefix,
    apps: [],
    simulatorArgs: options.simulatorArgs ?? ['--mode', 'fast'],
    config: {
      worker: {
        // 8 jobs at once is plenty on loopback; `null` leaves the config default (a round trip
        // needs jobs in flight: each sends its tokens in checkpoint-sized slices).
        ...(options.workerConcurrency !== null && { concurrency: options.workerConcurrency ?? 8 }),
        ...(options.workerTransport && { transport: options.workerTransport }),
        // `false`: single sends on the main event loop too, as before the express thread (to compare).
        ...(process.env.PF_BENCH_EXPRESS_THREAD === 'false' && { expressThread: false }),
      },
      apps: {
        demo: {
          ...(sink && { endpoint: { host: '127.0.0.1', port: sink.port, caFile: sink.caFile } }),
          ...(options.connections !== undefined && { connections: options.connections }),
        },
      },
    },
    compiled: true,
  });
  try {
    if (options.latencyMs) await stack.sim.control.addFault({ latencyMs: options.latencyMs });
    const queuedAt = Date.now();
    const { ids, bytesPerQueuedToken } = await queueCampaign(redis, prefix, stack.appId, 'sandbox', count);
    const queueSeconds = (Date.now() - queuedAt) / 1000;
    const records = new Ledger(redis, prefix).records;
    const nodeArgs = [
      ...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []),
      ...(process.env.PF_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ];
    const procs = await Promise.all(
      Array.from({ length: workers }, () => stack.spawn('worker', { nodeArgs })),
    );
    const pids = procs.map((p) => p.process.pid!);
    // Where the two cores went: the workers, Redis and the sink, over the same interval.
    const redisPid = Number((await redis.info('server')).match(/process_id:(\d+)/)![1]);
    const sinkPid = sink?.pid ?? stack.sim.process.pid!;
    const cpu0 = pids.map(processCpuMicros);
    const others0 = [redisPid, sinkPid].map(processCpuMicros);
    const t0 = Date.now();
    await waitFor(
      'campaign done',
      async () => {
        const all = await Promise.all(ids.map((id) => records.notification(stack.appId, id)));
        return all.every((s) => s?.state === 'done') ? all : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 100 },
    );
    const cpu = pids.map((pid, i) => processCpuMicros(pid) - cpu0[i]!);
    const [redisCpu, sinkCpu] = [redisPid, sinkPid].map((pid, i) => processCpuMicros(pid) - others0[i]!);
    const rss = Math.max(...pids.map(peakRssBytes));
    const all = await Promise.all(ids.map((id) => records.notification(stack.appId, id)));
    const finishedAt = Math.max(...all.map((s) => Date.parse(s!.finishedAt!)));
    const delivered = all.reduce((sum, s) => sum + s!.delivered, 0);
    // Exactly once, from the sink's own counts: every token accepted, none twice.
    const counted = sink
      ? await sink.stopAndCount()
      : await stack.sim.control.deliveriesSummary().then((d) => ({
          accepted: d.deliveries,
          distinctTokens: d.tokens,
        }));
    const seconds = (finishedAt - t0) / 1000;
    return {
      workers,
      sink: sinkName,
      delivered,
      sinkAccepted: counted.accepted,
      // The fast simulator counts requests only; nginx's log also tells distinct tokens apart.
      sinkDistinctTokens: counted.distinctTokens,
      exactlyOnce:
        delivered === count && counted.accepted === count && (counted.distinctTokens ?? count) === count,
      seconds,
      perSecond: delivered / seconds,
      workerCpuUsPerNotification: cpu.reduce((a, b) => a + b, 0) / delivered,
      /** Cores busy on average while the campaign drained, per process kind. */
      coresBusy: {
        workers: cpu.reduce((a, b) => a + b, 0) / 1e6 / seconds,
        redis: redisCpu! / 1e6 / seconds,
        sink: sinkCpu! / 1e6 / seconds,
      },
      workerPeakRssBytes: rss,
      redisBytesPerQueuedToken: bytesPerQueuedToken,
      directEnqueueSeconds: queueSeconds,
    };
  } finally {
    redis.disconnect();
    await stack.stop();
    await sink?.stop();
    await redisServer.stop();
  }
}

/** The loop a typical app server runs (bench/lib/contender.ts node-apn) to the same kind of sink. */
async function runBare(count: number, sinkName: E2eSinkName) {
  const sink = sinkName === 'nginx' ? await nginxSink() : await simulatorSink();
  if (!sink) throw new Error('nginx is not installed: bash bench/install-tools.sh');
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-bare-'));
  const key = generateProviderKey();
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem);
  try {
    return runContender('node-apn', sink, keyFile, key, count);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface E2eOptions {
  /** Write a V8 CPU profile of each worker here. */
  profileDir?: string;
  /** The workers' `worker.transport` (default: the config default, the lean client). */
  workerTransport?: 'lean' | 'node-http2' | 'node-apn';
  /** Sinks to run against (default: the simulator, then nginx when installed). */
  sinks?: E2eSinkName[];
  /** The stack's simulator flags (default `--mode fast`). */
  simulatorArgs?: string[];
  /** A latency fault on the simulator: every answer this late (a round trip to APNs). */
  latencyMs?: number;
  /** `worker.concurrency`: 8 by default here, `null` for the config default. */
  workerConcurrency?: number | null;
  /** `apps.demo.connections` (default: the config default, the self-sizing pool). */
  connections?: number | { min: number; max: number };
}

export async function e2eScenario(
  count: number,
  workerCounts: number[],
  log: (line: string) => void,
  options: E2eOptions = {},
) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
  const sinks = options.sinks ?? ['apns-sim fast', ...(nginxBinary() ? (['nginx'] as const) : [])];
  const runs = [];
  for (const sink of sinks) {
    log(`e2e: ${count} tokens to ${sink}; the bare node-apn loop first`);
    const bare = await runBare(count, sink);
    log(
      `e2e bare node-apn → ${sink}: ${Math.round(bare.perSecond)}/s, ${bare.cpuUsPerNotification.toFixed(1)} CPU-µs/notification`,
    );
    const fleets = [];
    for (const w of workerCounts) {
      const result = await runFleet(w, count, sink, options);
      const ratioToOneWorker: number = fleets[0] ? result.perSecond / fleets[0].perSecond : 1;
      fleets.push({ ...result, ratioToNodeApn: result.perSecond / bare.perSecond, ratioToOneWorker });
      log(
        `e2e pushfleet ${w} worker(s) → ${sink}: ${Math.round(result.perSecond)}/s (${(result.perSecond / bare.perSecond).toFixed(2)}× bare, ${ratioToOneWorker.toFixed(2)}× 1 worker), ` +
          `${result.workerCpuUsPerNotification.toFixed(1)} CPU-µs/notification, peak RSS ${(result.workerPeakRssBytes / 2 ** 20).toFixed(0)} MB, ` +
          `Redis ${result.redisBytesPerQueuedToken.toFixed(0)} B/queued token, exactly once: ${result.exactlyOnce}; ` +
          `cores busy: workers ${result.coresBusy.workers.toFixed(2)}, Redis ${result.coresBusy.redis.toFixed(2)}, sink ${result.coresBusy.sink.toFixed(2)}`,
      );
    }
    runs.push({ sink, bare, fleets });
  }
  return { count, workerTransport: options.workerTransport ?? 'lean', runs };
}
