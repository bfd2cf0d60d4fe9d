import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PushfleetClient } from '@pushfleet/client';
import {
  type AppProcess,
  type RestartableRedis,
  randomDeviceTokens,
  type Stack,
  startAofRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { assertEveryTokenDelivered, assertReconciles, report } from '../ha/fleet.ts';

/**
 * The ledger's promise with real processes and everything going wrong at once: a campaign and a
 * stream of single notifications while workers are killed (`kill -9`, twice in a row), another is
 * drained with SIGTERM past its grace period, Redis is killed and restarted from its AOF, and the
 * simulator answers 503s, 429s, GOAWAYs and connection resets. Afterwards: counters reconcile,
 * every accepted token reached APNs, duplicates stay within the documented bound, nothing is
 * stuck. 20,000 tokens in the normal suite; PF_HEAVY=1 runs 100,000.
 */
const heavy = process.env.PF_HEAVY === '1';
const campaignSize = heavy ? 100_000 : 20_000;
const concurrency = 16;
const checkpointEvery = 100;

let redis: RestartableRedis;
let stack: Stack;

before(async () => {
  redis = await startAofRedis();
  stack = await startStack({
    redisUrl: redis.url,
    prefix: `chaos-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'scheduler'],
    config: {
      api: { auth: { required: false } },
      redis: { commandTimeoutMs: 1000 },
      worker: {
        concurrency,
        checkpointEvery,
        lockDurationMs: 2000,
        maxStalledCount: 20,
        retryBaseMs: 50,
        retryMaxMs: 500,
        shutdownGraceMs: 500,
      },
    },
  });
});

after(async () => {
  await stack?.stop();
  await redis?.cleanup();
});

test(`chaos: ${campaignSize}-token campaign + single notifications through worker kills, a drain, a Redis restart and APNs faults`, {
  timeout: heavy ? 900_000 : 240_000,
}, async () => {
  const client = new PushfleetClient({
    baseUrl: stack.apiUrl,
    maxAttempts: 60,
    retryBaseMs: 100,
    retryMaxMs: 1000,
  });
  const app = stack.appId;
  const workers: AppProcess[] = [];
  const spawnWorker = async () => {
    const w = await stack.spawn('worker');
    workers.push(w);
    return w;
  };
  await Promise.all([spawnWorker(), spawnWorker(), spawnWorker()]);
  // APNs misbehaving throughout: every 50th request a 503, every 80th a 429, connections reset and
  // GOAWAYed now and then. All of it retryable: every token must still be delivered.
  await stack.sim.control.addFault({ status: 503, reason: 'ServiceUnavailable', rate: 0.02 });
  await stack.sim.control.addFault({ status: 429, reason: 'TooManyRequests', rate: 0.0125, retryAfter: 1 });
  await stack.sim.control.addFault({ reset: 'stream', rate: 0.005 });
  await stack.sim.control.addFault({ goawayAfter: 2000 });

  const audience = randomDeviceTokens(campaignSize);
  const started = Date.now();
  const { campaignId } = await client.uploadCampaign(
    app,
    { name: 'chaos', notification: { alert: 'chaos' } },
    () => audience,
  );
  const singles: { id: string; tokens: string[] }[] = [];
  let sending = true;
  // A producer as it should be written: when the SDK's own retries run out in an outage (a 503,
  // or its earlier attempt's key still in progress after a Redis restart), it asks again later
  // under the same Idempotency-Key, so a request accepted meanwhile is answered, not sent twice.
  let gaveUpThenRetried = 0;
  const sendOnce = async (tokens: string[]) => {
    const idempotencyKey = randomUUID();
    for (;;) {
      try {
        return await client.sendNotification(
          app,
          { tokens, notification: { alert: 'single' } },
          { idempotencyKey },
        );
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'PF_ERR_REDIS_UNAVAILABLE' && code !== 'PF_ERR_IDEMPOTENCY_IN_PROGRESS') throw err;
        gaveUpThenRetried++;
        await sleep(1000);
      }
    }
  };
  const singleSender = (async () => {
    while (sending) {
      const tokens = randomDeviceTokens(5);
      const sent = await sendOnce(tokens);
      singles.push({ id: sent.id, tokens });
      await sleep(150);
    }
  })();

  const delivered = async () => (await client.getCampaign(app, campaignId)).delivered;
  const events: string[] = [];
  // 1. Two workers killed in a row (their batches: taken over after the lock, twice).
  await waitFor('a fifth delivered', async () => (await delivered()) > campaignSize / 5, {
    timeoutMs: 60_000,
  });
  await workers[0]!.kill();
  await sleep(300);
  await workers[1]!.kill();
  events.push('kill -9 two workers');
  await spawnWorker();
  // 2. One drained with SIGTERM (its grace is shorter than its batches: they are taken over).
  await waitFor('two fifths delivered', async () => (await delivered()) > (2 * campaignSize) / 5, {
    timeoutMs: 90_000,
  });
  const drained = await workers[2]!.stop();
  events.push(`SIGTERM drain (exit ${drained})`);
  await spawnWorker();
  // 3. Redis killed and restarted from its AOF (everysec: up to a second of writes may be lost).
  await waitFor('three fifths delivered', async () => (await delivered()) > (3 * campaignSize) / 5, {
    timeoutMs: 90_000,
  });
  const beforeOutage = await delivered();
  const outageAt = Date.now();
  await redis.stop('SIGKILL');
  await sleep(1500);
  await redis.start();
  const outageMs = Date.now() - outageAt;
  events.push(`Redis kill -9 + restart (${outageMs} ms)`);

  const done = await client.waitForCampaign(app, campaignId, {
    intervalMs: 250,
    timeoutMs: heavy ? 600_000 : 150_000,
  });
  sending = false;
  await singleSender;
  const seconds = (Date.now() - started) / 1000;
  await stack.sim.control.clearFaults();

  // Invariants.
  assert.equal(done.state, 'done');
  assertReconciles(done, campaignSize);
  assert.equal(done.delivered, campaignSize, `every token delivered: ${JSON.stringify(done)}`);
  const duplicates = await assertEveryTokenDelivered(stack, audience);
  const singleStatuses = await Promise.all(
    singles.map(async (s) =>
      waitFor(
        `single ${s.id}`,
        async () => {
          const status = await client.getNotification(app, s.id);
          return status.state === 'done' ? status : undefined;
        },
        { timeoutMs: 60_000 },
      ),
    ),
  );
  for (const status of singleStatuses) {
    assert.equal(status.accepted, 5);
    assert.equal(status.delivered, 5, JSON.stringify(status));
  }
  await assertEveryTokenDelivered(
    stack,
    singles.flatMap((s) => s.tokens),
  );
  // The bound: each killed or drained worker re-sends at most one slice per job it ran, and the
  // AOF restart at most the last second of recorded progress (measured as the delivery rate).
  const rate = beforeOutage / ((outageAt - started) / 1000);
  const bound = 3 * concurrency * checkpointEvery + Math.ceil(rate);
  report('chaos', {
    tokens: campaignSize,
    singles: singles.length,
    singlesAskedAgainAfterAnOutage: gaveUpThenRetried,
    seconds: Number(seconds.toFixed(1)),
    duplicates,
    bound,
    events,
    workersStarted: workers.length,
  });
  assert.ok(duplicates <= bound, `${duplicates} duplicates (bound ${bound})`);
  for (const w of workers.slice(3))
    assert.equal(w.process.exitCode, null, 'replacement workers still running');
  for (const proc of stack.processes.values())
    assert.deepEqual(proc.nonJsonLines(), [], `${proc.name} logged JSON only`);
});
