import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  randomDeviceTokens,
  type StartedRedisTopology,
  startRedisTopology,
  waitFor,
} from '@pushfleet/testkit';
import { assertEveryTokenDelivered, assertReconciles, deliveryScenarios, fleetOn, report } from './fleet.ts';

/**
 * The main delivery scenarios on a primary + replica + 3 Sentinels, then a failover during a
 * running campaign: the primary is stopped, Sentinel promotes the replica, every process follows
 * it (ioredis asks the Sentinels) and the campaign completes with every token accounted for.
 * PF_HA_FAILOVER_SIGNAL=SIGKILL makes the stop a crash instead of a clean shutdown.
 */
const failoverTokens = Number(
  process.env.PF_HA_FAILOVER_TOKENS ?? (process.env.PF_HEAVY === '1' ? 20_000 : 5000),
);
const failoverSignal = process.env.PF_HA_FAILOVER_SIGNAL === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM';

let sentinel: StartedRedisTopology;
let fleet: Awaited<ReturnType<typeof fleetOn>>;

before(async () => {
  const t0 = Date.now();
  sentinel = await startRedisTopology('sentinel');
  const topologyMs = Date.now() - t0;
  fleet = await fleetOn(sentinel, { config: { worker: { concurrency: 4 } } });
  report('sentinel-start', { topologyMs, fleetMs: Date.now() - t0 - topologyMs });
});

after(async () => {
  await fleet?.stack.stop();
  await sentinel?.stop();
});

test('Sentinel (primary + replica + 3 Sentinels): notifications, campaign, 503 storm, 410 feedback', async () => {
  const figures = await deliveryScenarios(fleet, () => sentinel.client());
  report('sentinel-delivery', figures);
});

test(`Sentinel failover (${failoverSignal}) during a ${failoverTokens}-token campaign: completes, every token accounted for`, {
  timeout: 90_000,
}, async () => {
  const { stack, client } = fleet;
  // Some latency per request so the campaign is still running when the primary goes.
  await stack.sim.control.addFault({ latencyMs: 2, rate: 1 });
  const tokens = randomDeviceTokens(failoverTokens);
  const t0 = Date.now();
  const created = await client.uploadCampaign(
    stack.appId,
    { name: 'failover', notification: { alert: 'failover' } },
    () => tokens,
  );
  await waitFor(
    'the campaign to be part-way through',
    async () => {
      const s = await client.getCampaign(stack.appId, created.campaignId);
      return s.delivered >= failoverTokens * 0.2 ? s : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const failover = await sentinel.sentinel!.failover(failoverSignal);
  const final = await client.waitForCampaign(stack.appId, created.campaignId, {
    intervalMs: 200,
    timeoutMs: 75_000,
  });
  await stack.sim.control.clearFaults();
  assert.equal(final.state, 'done');
  assertReconciles(final, failoverTokens);
  assert.equal(final.delivered, failoverTokens, JSON.stringify(final));
  const duplicates = await assertEveryTokenDelivered(stack, tokens);
  const figures = {
    signal: failoverSignal,
    tokens: failoverTokens,
    failoverMs: failover.ms,
    campaignSeconds: (Date.now() - t0) / 1000,
    duplicates,
  };
  report('sentinel-failover', figures);
  // Duplicates are bounded by the in-flight window of the batches that were running.
  assert.ok(duplicates <= 4 * 500, `duplicates ${duplicates}`);
  // Every process is still up: it followed the new primary instead of exiting.
  for (const proc of stack.processes.values()) assert.equal(proc.process.exitCode, null, proc.name);
});
