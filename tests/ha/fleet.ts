import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type CampaignStatus, PushfleetClient } from '@pushfleet/client';
import { storeKeys } from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedisTopology,
  stackApi,
  startStack,
  waitFor,
} from '@pushfleet/testkit';

/** Figures the HA tests print (one JSON line on stderr each) for the report. */
export function report(name: string, figures: Record<string, unknown>): void {
  process.stderr.write(`ha figures ${name}: ${JSON.stringify(figures)}\n`);
}

/** A fleet (api, worker, scheduler) on a topology, with a fresh prefix. */
export async function fleetOn(
  topology: StartedRedisTopology,
  options: { apps?: ('api' | 'worker' | 'scheduler')[]; config?: Record<string, unknown> } = {},
): Promise<{ stack: Stack; prefix: string; keyPrefix: string; client: PushfleetClient }> {
  const prefix = `ha-${randomUUID().slice(0, 8)}`;
  const stack = await startStack({
    redis: topology.config,
    prefix,
    apps: options.apps ?? ['api', 'worker', 'scheduler'],
    config: {
      api: { auth: { required: false } },
      worker: { retryBaseMs: 50, retryMaxMs: 400, ...(options.config?.worker ?? {}) },
      ...Object.fromEntries(Object.entries(options.config ?? {}).filter(([k]) => k !== 'worker')),
    },
  });
  return {
    stack,
    prefix,
    keyPrefix: topology.effectivePrefix(prefix),
    client: new PushfleetClient({
      baseUrl: stack.apiUrl,
      maxAttempts: 30,
      retryBaseMs: 100,
      retryMaxMs: 1000,
    }),
  };
}

/** Simulator delivery counts, to compare before/after one scenario on a shared simulator. */
export async function simCounts(stack: Stack): Promise<{ deliveries: number; duplicates: number }> {
  const s = await stack.sim.control.deliveriesSummary();
  return { deliveries: s.deliveries, duplicates: s.duplicates ?? 0 };
}

export function assertReconciles(status: CampaignStatus, total: number): void {
  const rejected = Object.values(status.rejected).reduce((a, b) => a + b, 0);
  assert.equal(status.total, total, JSON.stringify(status));
  assert.equal(status.accepted, total, JSON.stringify(status));
  assert.equal(
    status.delivered + rejected + status.failed + status.expired + status.cancelled,
    total,
    `counters do not reconcile: ${JSON.stringify(status)}`,
  );
}

/** Every token of the list reached the simulator at least once; returns how many extra sends. */
export async function assertEveryTokenDelivered(stack: Stack, tokens: string[]): Promise<number> {
  let extra = 0;
  const missing: string[] = [];
  // Per-token reads in parallel chunks: the simulator answers each from memory.
  for (let i = 0; i < tokens.length; i += 200) {
    const chunk = tokens.slice(i, i + 200);
    const counts = await Promise.all(chunk.map(async (t) => (await stack.sim.control.deliveries(t)).length));
    counts.forEach((n, j) => {
      if (n === 0) missing.push(chunk[j]!);
      extra += Math.max(0, n - 1);
    });
  }
  assert.deepEqual(missing.length, 0, `${missing.length} tokens never delivered (e.g. ${missing[0]})`);
  return extra;
}

/**
 * The representative delivery scenarios of tests/delivery and tests/e2e-delivery, run against
 * whatever topology the fleet is on: notifications, a campaign through the fan-out, a 503 storm
 * with per-token retries, and a 410 that becomes a feedback event.
 */
export async function deliveryScenarios(
  fleet: Awaited<ReturnType<typeof fleetOn>>,
  redisClient: () => Promise<import('ioredis').Redis>,
): Promise<Record<string, number>> {
  const { stack, client, keyPrefix } = fleet;
  const api = stackApi(stack);
  const figures: Record<string, number> = {};

  // 1. api → Redis → worker → simulator, two notifications, exactly once each.
  let t0 = Date.now();
  const before = await simCounts(stack);
  const tokens = randomDeviceTokens(1200);
  const ids = [await api.send(tokens.slice(0, 1000)), await api.send(tokens.slice(1000))];
  const finals = await Promise.all(ids.map((id) => api.waitDone(id)));
  assert.deepEqual(
    finals.map((s) => [s.accepted, s.delivered, s.rejected, s.failed]),
    [
      [1000, 1000, 0, 0],
      [200, 200, 0, 0],
    ],
  );
  const after = await simCounts(stack);
  assert.equal(after.deliveries - before.deliveries, 1200);
  assert.equal(after.duplicates - before.duplicates, 0);
  figures.notificationsMs = Date.now() - t0;

  // 2. A campaign: fan-out into deliver batches, counters reconcile, each token once.
  t0 = Date.now();
  const audience = randomDeviceTokens(3000);
  const created = await client.createCampaign(stack.appId, {
    name: 'ha',
    notification: { alert: 'campaign' },
    audience: { kind: 'tokens', tokens: audience },
  });
  const done = await client.waitForCampaign(stack.appId, created.campaignId, {
    intervalMs: 100,
    timeoutMs: 40_000,
  });
  assert.equal(done.state, 'done');
  assertReconciles(done, audience.length);
  assert.equal(done.delivered, audience.length);
  figures.campaignMs = Date.now() - t0;
  figures.campaignDuplicates = await assertEveryTokenDelivered(stack, audience);
  assert.equal(figures.campaignDuplicates, 0);

  // 3. A 503 storm on the first attempt: only the failed tokens are retried, each delivered once.
  t0 = Date.now();
  const stormTokens = randomDeviceTokens(300);
  await stack.sim.control.addFault({ status: 503, reason: 'ServiceUnavailable', count: 300 });
  const stormId = await api.send(stormTokens);
  const storm = await api.waitDone(stormId);
  await stack.sim.control.clearFaults();
  assert.equal(storm.delivered, 300);
  assert.equal(await assertEveryTokenDelivered(stack, stormTokens), 0);
  figures.stormMs = Date.now() - t0;

  // 4. A 410 Unregistered: rejected, counted, and published to the feedback stream.
  const [dead, ...alive] = randomDeviceTokens(10);
  await stack.sim.control.addFault({
    token: dead!,
    status: 410,
    reason: 'Unregistered',
    timestamp: 1_700_000_000_000,
  });
  const deadId = await api.send([dead!, ...alive]);
  const deadStatus = await api.waitDone(deadId);
  await stack.sim.control.clearFaults();
  assert.equal(deadStatus.delivered, 9);
  assert.equal(deadStatus.rejected, 1);
  assert.equal(deadStatus.reasons.Unregistered, 1);
  const redis = await redisClient();
  try {
    const entries = await waitFor('the feedback event', async () => {
      const all = await redis.xrange(storeKeys.feedbackStream(keyPrefix, stack.appId), '-', '+');
      return all.find(([, fields]) => fields.includes(dead!)) ?? undefined;
    });
    assert.ok(entries);
  } finally {
    redis.disconnect();
  }
  return figures;
}
