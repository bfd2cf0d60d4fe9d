import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PushfleetClient } from '@pushfleet/client';
import { appSpace } from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedisTopology,
  startRedisTopology,
  startStack,
} from '@pushfleet/testkit';
import type { Cluster } from 'ioredis';
import { assertReconciles, deliveryScenarios, fleetOn, report } from './fleet.ts';

/**
 * The main delivery scenarios on a Redis Cluster of 3 primaries with one replica each, and apps
 * spread over every primary: each app's keys share the app's own hash tag, so adding primaries
 * adds capacity while every multi-key script stays within one slot.
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

test('Cluster (3 primaries × 1 replica): notifications, campaign, 503 storm, 410 feedback', async () => {
  const figures = await deliveryScenarios(fleet, () => topology.client());
  report('cluster-delivery', figures);
});

/** The primary ("host:port") serving a key's slot. */
async function primaryOf(cluster: Cluster, key: string): Promise<string> {
  const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await cluster.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
  return `${range[2][0]}:${range[2][1]}`;
}

test('Cluster: apps spread over every primary, a campaign on each completes', {
  timeout: 120_000,
}, async () => {
  const redis = (await topology.client()) as unknown as Cluster;
  const prefix = `spread-${randomUUID().slice(0, 8)}`;
  // Three app ids whose key spaces land on three different primaries.
  const byPrimary = new Map<string, string>();
  for (let i = 0; byPrimary.size < 3 && i < 200; i++) {
    const app = `app${i}`;
    const primary = await primaryOf(redis, `${appSpace(prefix, app)}:n:x`);
    if (!byPrimary.has(primary)) byPrimary.set(primary, app);
  }
  assert.equal(byPrimary.size, 3, 'three primaries');
  const apps = [...byPrimary.values()];
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      redis: topology.config,
      prefix,
      appId: apps[0]!,
      extraApps: apps.slice(1),
      apps: ['api', 'worker'],
      config: { api: { auth: { required: false } } },
    });
    const client = new PushfleetClient({ baseUrl: stack.apiUrl });
    const campaigns = await Promise.all(
      apps.map(async (app) => {
        const tokens = randomDeviceTokens(1500);
        const { campaignId } = await client.createCampaign(app, {
          notification: { alert: app },
          audience: { kind: 'tokens', tokens },
        });
        return { app, campaignId, tokens };
      }),
    );
    for (const { app, campaignId, tokens } of campaigns) {
      const done = await client.waitForCampaign(app, campaignId, { intervalMs: 100, timeoutMs: 60_000 });
      assert.equal(done.state, 'done');
      assertReconciles(done, tokens.length);
      assert.equal(done.delivered, tokens.length);
    }
    // Each app's records and queue live on its own primary.
    const where = await Promise.all(
      campaigns.map(async ({ app, campaignId }) => {
        const key = `${appSpace(prefix, app)}:n:${campaignId}`;
        assert.equal(await redis.exists(key), 1);
        return primaryOf(redis, key);
      }),
    );
    assert.equal(new Set(where).size, 3, `records on ${where.join(', ')}`);
    report('cluster-spread', { apps, primaries: where });
  } finally {
    await stack?.stop();
    redis.disconnect();
  }
});
