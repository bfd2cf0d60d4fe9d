// e2e: a campaign of N tokens queued in Redis (direct enqueue), drained by W worker processes
// into the simulator in fast mode; compared in the same run with the bare node-apn loop.
// Usage: node --import tsx bench/e2e.ts [--count N] [--workers 1,2] [--json]
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { DeliverProducer } from '@pushfleet/queue';
import { NotificationStatusStore } from '@pushfleet/store';
import { randomDeviceTokens, repoRoot, spawnRedisServer, startStack, waitFor } from '@pushfleet/testkit';
import { Redis } from 'ioredis';
import { peakRssBytes, processCpuMicros } from './lib/proc-stats.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200000' },
    workers: { type: 'string', default: '1,2' },
    json: { type: 'boolean', default: false },
    /** Write a V8 CPU profile of each worker to this folder (see --cpu-prof). */
    profile: { type: 'string' },
    /** Extra node flags for the workers, comma-separated (e.g. --max-semi-space-size=32). */
    'worker-node-args': { type: 'string', default: '' },
  },
});
const count = Number(values.count);
const workerCounts = values.workers.split(',').map(Number);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function queueCampaign(redis: Redis, prefix: string, app: string, environment: 'sandbox') {
  const id = randomUUID();
  const prepared = prepareNotification(
    notificationSchema.parse({
      alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
      sound: 'default',
    }),
    'com.example.pushfleet.demo',
  );
  const status = new NotificationStatusStore(redis, prefix);
  const producer = new DeliverProducer(redis, prefix);
  await status.create({ id, app, environment, accepted: count });
  const memoryBefore = Number((await redis.info('memory')).match(/used_memory:(\d+)/)![1]);
  const chunk = 50_000;
  for (let sent = 0; sent < count; sent += chunk) {
    const tokens = randomDeviceTokens(Math.min(chunk, count - sent));
    await producer.enqueue({ app, environment, notificationId: `${id}-${sent / chunk}`, prepared }, tokens);
    await status.create({ id: `${id}-${sent / chunk}`, app, environment, accepted: tokens.length });
  }
  const memoryAfter = Number((await redis.info('memory')).match(/used_memory:(\d+)/)![1]);
  await producer.close();
  const ids = Array.from({ length: Math.ceil(count / chunk) }, (_, i) => `${id}-${i}`);
  return { ids, bytesPerQueuedToken: (memoryAfter - memoryBefore) / count };
}

async function runFleet(workers: number) {
  const redisServer = await spawnRedisServer();
  const redis = new Redis(redisServer.url);
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const stack = await startStack({
    redisUrl: redisServer.url,
    prefix,
    apps: [],
    simulatorArgs: ['--mode', 'fast'],
    config: { worker: { concurrency: 8 } },
    compiled: true,
  });
  try {
    const { ids, bytesPerQueuedToken } = await queueCampaign(redis, prefix, stack.appId, 'sandbox');
    const statuses = new NotificationStatusStore(redis, prefix);
    const nodeArgs = values['worker-node-args'].split(',').filter(Boolean);
    if (values.profile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${values.profile}`);
    const procs = await Promise.all(
      Array.from({ length: workers }, () => stack.spawn('worker', { nodeArgs })),
    );
    const pids = procs.map((p) => p.process.pid!);
    const cpu0 = pids.map(processCpuMicros);
    const t0 = Date.now();
    await waitFor(
      'campaign done',
      async () => {
        const all = await Promise.all(ids.map((id) => statuses.get(id)));
        return all.every((s) => s?.state === 'done') ? all : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 100 },
    );
    const cpu = pids.map((pid, i) => processCpuMicros(pid) - cpu0[i]!);
    const rss = Math.max(...pids.map(peakRssBytes));
    const all = await Promise.all(ids.map((id) => statuses.get(id)));
    const finishedAt = Math.max(...all.map((s) => Date.parse(s!.finishedAt!)));
    const delivered = all.reduce((sum, s) => sum + s!.delivered, 0);
    const simStats = await stack.sim.control.stats();
    const seconds = (finishedAt - t0) / 1000;
    return {
      workers,
      delivered,
      simulatorAccepted: simStats.accepted,
      exactlyOnce: delivered === count && simStats.accepted === count,
      seconds,
      perSecond: delivered / seconds,
      workerCpuUsPerNotification: cpu.reduce((a, b) => a + b, 0) / delivered,
      workerPeakRssBytes: rss,
      redisBytesPerQueuedToken: bytesPerQueuedToken,
      stack,
    };
  } finally {
    redis.disconnect();
    await stack.stop();
    await redisServer.stop();
  }
}

async function runBare() {
  const redisServer = await spawnRedisServer();
  const stack = await startStack({
    redisUrl: redisServer.url,
    prefix: 'bare',
    apps: [],
    simulatorArgs: ['--mode', 'fast'],
  });
  try {
    const config = JSON.parse((await import('node:fs')).readFileSync(stack.configFile, 'utf8'));
    const app = config.apps[stack.appId];
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/lib/bare-node-apn.ts',
        String(stack.sim.port),
        stack.sim.caFile,
        app.credentials.keyFile,
        stack.key.keyId,
        stack.key.teamId,
        String(count),
      ],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').at(-1)!);
  } finally {
    await stack.stop();
    await redisServer.stop();
  }
}

execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
log(`e2e: ${count} tokens; bare node-apn loop first`);
const bare = await runBare();
log(
  `bare node-apn: ${Math.round(bare.perSecond)}/s, ${bare.cpuUsPerNotification.toFixed(1)} CPU-µs/notification`,
);
const fleets = [];
for (const w of workerCounts) {
  const { stack: _stack, ...result } = await runFleet(w);
  fleets.push(result);
  log(
    `pushfleet ${w} worker(s): ${Math.round(result.perSecond)}/s (${(result.perSecond / bare.perSecond).toFixed(2)}× bare), ` +
      `${result.workerCpuUsPerNotification.toFixed(1)} CPU-µs/notification, peak RSS ${(result.workerPeakRssBytes / 2 ** 20).toFixed(0)} MB, ` +
      `Redis ${result.redisBytesPerQueuedToken.toFixed(0)} B/queued token, exactly once: ${result.exactlyOnce}`,
  );
}
const report = { scenario: 'e2e', count, date: new Date().toISOString(), bare, fleets };
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
writeFileSync(`${repoRoot}/bench/results/e2e-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
