import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  repoRoot,
  type Stack,
  type StartedRedis,
  stackApi,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

/**
 * #15: idle apps cost nothing. One worker with 1,000 apps configured and none sending: its Redis
 * connections and commands, its memory and its APNs connections must not grow with the apps.
 * Targets (issue 15): ≤ 10 Redis connections, ≤ 50 commands/s, RSS ≤ 150 MB, no APNs connection.
 * Then one app gets work: the worker attaches to it, delivers, and detaches once it is idle.
 * The worker runs the bundle, as production does (from the TypeScript sources its express thread
 * would load and compile them again, about 50 MB that no deployment carries).
 */
const appCount = Number(process.env.PF_IDLE_APPS ?? 1000);
let server: StartedRedis;
let stack: Stack;
let redis: Redis;

before(async () => {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
  server = await startRedis();
  redis = new Redis(server.url);
  stack = await startStack({
    redisUrl: server.url,
    prefix: `idle-${randomUUID().slice(0, 8)}`,
    extraApps: Array.from({ length: appCount - 1 }, (_, i) => `app-${i}`),
    apps: ['api'],
    config: { api: { auth: { required: false } }, worker: { idleDetachMs: 1000, activityScanMs: 500 } },
  });
});
after(async () => {
  await stack?.stop();
  redis?.disconnect();
  await server?.stop();
});

const clients = async () => Number((await redis.info('clients')).match(/connected_clients:(\d+)/)![1]);
const commands = async () => Number((await redis.info('stats')).match(/total_commands_processed:(\d+)/)![1]);
const rssMb = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) / 1024;

test(`one idle worker with ${appCount} apps: flat Redis connections and commands, no APNs connection`, {
  timeout: 120_000,
}, async () => {
  const before = await clients();
  const worker = await stack.spawn('worker', { compiled: true });
  await sleep(3000); // past start-up
  const connections = (await clients()) - before;
  const c0 = await commands();
  const seconds = 5;
  await sleep(seconds * 1000);
  // Our own INFO calls are in the count: 2 per measurement.
  const perSecond = ((await commands()) - c0 - 2) / seconds;
  const rss = rssMb(worker.process.pid!);
  const apns = (await stack.sim.control.stats()).openConnections;
  process.stdout.write(
    `# idle figures: ${JSON.stringify({ apps: appCount, redisConnections: connections, commandsPerSecond: perSecond, rssMb: Math.round(rss), apnsConnections: apns })}\n`,
  );
  assert.ok(connections <= 10, `${connections} Redis connections`);
  assert.ok(perSecond <= 50, `${perSecond} commands/s`);
  assert.ok(rss <= 150, `${rss.toFixed(0)} MB RSS`);
  assert.equal(apns, 0);

  // An app gets work: attached, delivered, then detached again when idle.
  const api = stackApi(stack, 'app-7');
  const id = await api.send(Array.from({ length: 20 }, (_, i) => (i + 1).toString(16).padStart(64, '0')));
  const done = await api.waitDone(id, 10_000);
  assert.equal(done.delivered, 20);
  await waitFor('the idle app detached', async () => (await clients()) - before <= connections, {
    timeoutMs: 10_000,
  });
});
