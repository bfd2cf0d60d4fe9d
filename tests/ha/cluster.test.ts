import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type StartedRedisTopology, startRedisTopology } from '@pushfleet/testkit';
import { deliveryScenarios, fleetOn, report } from './fleet.ts';

/**
 * The main delivery scenarios on a Redis Cluster of 3 primaries with one replica each. The
 * config's prefix is hash-tagged (`{ha-…}`), so every BullMQ script and store script stays in one slot.
 */
let topology: StartedRedisTopology;
let fleet: Awaited<ReturnType<typeof fleetOn>>;

before(async () => {
  const t0 = Date.now();
  topology = await startRedisTopology('cluster');
  const topologyMs = Date.now() - t0;
  fleet = await fleetOn(topology);
  report('cluster-start', { topologyMs, fleetMs: Date.now() - t0 - topologyMs });
});

after(async () => {
  await fleet?.stack.stop();
  await topology?.stop();
});

test('Cluster: keys of the fleet live under one hash tag', async () => {
  assert.match(fleet.keyPrefix, /^\{ha-[0-9a-f]{8}\}$/);
});

test('Cluster (3 primaries × 1 replica): notifications, campaign, 503 storm, 410 feedback', async () => {
  const figures = await deliveryScenarios(fleet, () => topology.client());
  report('cluster-delivery', figures);
});
