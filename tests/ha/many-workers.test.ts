import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PushfleetClient } from '@pushfleet/client';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedisTopology,
  startRedisTopology,
  startStack,
} from '@pushfleet/testkit';
import { assertEveryTokenDelivered, assertReconciles, report } from './fleet.ts';

/**
 * 8 worker processes drain one campaign: BullMQ hands each batch to one worker, so every token
 * is delivered exactly once (no crash here, so the crash bound is zero) and the counters reconcile.
 */
const workerCount = Number(process.env.PF_HA_WORKERS ?? 8);
const tokenCount = Number(
  process.env.PF_HA_WORKER_TOKENS ?? (process.env.PF_HEAVY === '1' ? 50_000 : 10_000),
);

let topology: StartedRedisTopology;
let stack: Stack;

before(async () => {
  topology = await startRedisTopology('standalone');
  stack = await startStack({
    redis: topology.config,
    prefix: `ha-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'worker'],
    config: { api: { auth: { required: false } }, worker: { concurrency: 2 } },
  });
  await Promise.all(Array.from({ length: workerCount - 1 }, () => stack.spawn('worker')));
});

after(async () => {
  await stack?.stop();
  await topology?.stop();
});

test(`${workerCount} worker processes on one ${tokenCount}-token campaign: every token once, counters reconcile`, {
  timeout: 90_000,
}, async () => {
  const client = new PushfleetClient({ baseUrl: stack.apiUrl });
  const tokens = randomDeviceTokens(tokenCount);
  const t0 = Date.now();
  const created = await client.uploadCampaign(
    stack.appId,
    { name: 'many', notification: { alert: 'many' } },
    () => tokens,
  );
  const final = await client.waitForCampaign(stack.appId, created.campaignId, {
    intervalMs: 100,
    timeoutMs: 80_000,
  });
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(final.state, 'done');
  assertReconciles(final, tokenCount);
  assert.equal(final.delivered, tokenCount);
  const duplicates = await assertEveryTokenDelivered(stack, tokens);
  assert.equal(duplicates, 0);
  const summary = await stack.sim.control.deliveriesSummary();
  assert.equal(summary.deliveries, tokenCount);
  report('many-workers', {
    workers: workerCount,
    tokens: tokenCount,
    seconds,
    perSecond: Math.round(tokenCount / seconds),
    duplicates,
  });
});
