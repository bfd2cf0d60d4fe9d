import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PushfleetClient } from '@pushfleet/client';
import {
  type RestartableRedis,
  randomDeviceTokens,
  type Stack,
  startAofRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { assertEveryTokenDelivered, assertReconciles, report } from './fleet.ts';

/**
 * Redis with AOF (appendfsync everysec) restarted in the middle of a campaign: the workers wait
 * with backoff, reconnect, and the campaign completes with nothing lost. The restart is a crash
 * (SIGKILL) by default: everysec may drop the last second of writes, which the delivery design
 * (counters, applied set and checkpoint in one script; deterministic batch ids) turns into at
 * most re-sends, never a lost token. PF_HA_RESTART_SIGNAL=SIGTERM for a clean restart.
 */
const tokenCount = Number(process.env.PF_HA_AOF_TOKENS ?? (process.env.PF_HEAVY === '1' ? 20_000 : 5000));
const signal = process.env.PF_HA_RESTART_SIGNAL === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL';

let redis: RestartableRedis;
let stack: Stack;

before(async () => {
  redis = await startAofRedis();
  stack = await startStack({
    redisUrl: redis.url,
    prefix: `ha-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'worker'],
    config: {
      api: { auth: { required: false } },
      worker: { concurrency: 4, retryBaseMs: 50, retryMaxMs: 400, lockDurationMs: 5000 },
    },
  });
});

after(async () => {
  await stack?.stop();
  await redis?.cleanup();
});

test(`Redis restart (${signal}, AOF everysec) during a ${tokenCount}-token campaign: completes, nothing lost`, {
  timeout: 90_000,
}, async () => {
  const client = new PushfleetClient({
    baseUrl: stack.apiUrl,
    maxAttempts: 30,
    retryBaseMs: 100,
    retryMaxMs: 1000,
  });
  await stack.sim.control.addFault({ latencyMs: 2, rate: 1 });
  const tokens = randomDeviceTokens(tokenCount);
  const t0 = Date.now();
  const created = await client.uploadCampaign(
    stack.appId,
    { name: 'aof', notification: { alert: 'aof' } },
    () => tokens,
  );
  await waitFor(
    'the campaign to be part-way through',
    async () => (await client.getCampaign(stack.appId, created.campaignId)).delivered >= tokenCount * 0.2,
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const down = Date.now();
  await redis.restart(signal, 1000);
  const outageMs = Date.now() - down;
  const final = await client.waitForCampaign(stack.appId, created.campaignId, {
    intervalMs: 200,
    timeoutMs: 75_000,
  });
  await stack.sim.control.clearFaults();
  assert.equal(final.state, 'done');
  assertReconciles(final, tokenCount);
  assert.equal(final.delivered, tokenCount, JSON.stringify(final));
  const duplicates = await assertEveryTokenDelivered(stack, tokens);
  for (const proc of stack.processes.values())
    assert.equal(proc.process.exitCode, null, `${proc.name} still running`);
  report('aof-restart', {
    signal,
    tokens: tokenCount,
    outageMs,
    campaignSeconds: (Date.now() - t0) / 1000,
    duplicates,
  });
  assert.ok(duplicates <= 4 * 500, `duplicates ${duplicates}`);
});
