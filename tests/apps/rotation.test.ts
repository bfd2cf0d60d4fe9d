import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomDeviceTokens, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import { type RegistryFleet, startRegistryFleet, tokenCredentials } from './registry-fleet.ts';

/**
 * #15: rotating an app's key while a campaign runs loses nothing and fails nothing. The campaign
 * starts on key A; a quarter of the way in the app is switched to key B through the registry (no
 * restart). The simulator accepts both until the worker's old pool is done with A, then A is
 * revoked: from then on anything signed with A would be refused (403). Every token must be
 * delivered, none failed or rejected, the counters must reconcile, and the simulator must have
 * taken B's signature after the switch.
 */
const count = Number(process.env.PF_ROTATION_TOKENS ?? 20_000);
let server: StartedRedis;
let fleet: RegistryFleet;

before(async () => {
  server = await startRedis();
  fleet = await startRegistryFleet(server.url, {
    apps: ['worker'],
    simulatorArgs: ['--token-initial-streams', '1'],
    // One connection with 100 streams: most of a batch waits for a stream slot, so at the switch
    // the old pool holds queued sends as well as requests in flight.
    config: { worker: { maxInFlightPerConnection: 100 } },
  });
});
after(async () => {
  await fleet?.stop();
  await server?.stop();
});

test(`rotation mid-campaign (${count} tokens): every token delivered, none failed or rejected`, {
  timeout: 180_000,
}, async () => {
  const sim = fleet.stack.sim.control;
  const keyA = await fleet.newKey();
  await fleet.registry.put('rot', {
    ...fleet.appBody('com.example.rot', tokenCredentials(keyA)),
    connections: { min: 1, max: 1 },
  });
  await waitFor('the producer sees the app', () => fleet.directory.get('rot') !== undefined, {
    timeoutMs: 5000,
    intervalMs: 10,
  });
  const tokens = randomDeviceTokens(count);
  const { campaignId } = await fleet.producer.createCampaign(
    'rot',
    { name: 'rotation', notification: { alert: { title: 'Rotation', body: 'mid-campaign' } } },
    [tokens],
  );

  const quarter = await waitFor(
    'a quarter of the campaign sent on key A',
    async () => {
      const stats = await sim.stats();
      return stats.accepted >= count / 4 ? stats.accepted : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
  const keyB = await fleet.newKey();
  const switchedAt = Date.now();
  await fleet.registry.putCredentials('rot', tokenCredentials(keyB));
  const atSwitch = (await sim.stats()).accepted;
  assert.ok(atSwitch < count, `the campaign was still running at the switch (${atSwitch} of ${count} sent)`);

  await waitFor(
    'the simulator takes key B',
    async () => ((await sim.stats()).acceptedByKey[keyB.keyId] ?? 0) > 0,
    {
      timeoutMs: 10_000,
      intervalMs: 20,
    },
  );
  const takenOverMs = Date.now() - switchedAt;
  // The old pool finishes what it took, then closes; once A stops moving, revoke it.
  let lastA = -1;
  await waitFor(
    'key A unused for 500 ms',
    async () => {
      const a = (await sim.stats()).acceptedByKey[keyA.keyId] ?? 0;
      const settled = a === lastA;
      lastA = a;
      return settled;
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  );
  await sim.removeKey(keyA.keyId);
  const atRevoke = await sim.stats();

  const final = await waitFor(
    'campaign done',
    async () => {
      const s = await fleet.ledger.records.campaign('rot', campaignId);
      return s?.state === 'done' ? s : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 250 },
  );
  const stats = await sim.stats();
  const summary = await sim.deliveriesSummary();
  const metrics = await fleet.metrics('worker');
  const retried = metrics
    .split('\n')
    .filter((l) => l.startsWith('pushfleet_retries_scheduled_total{') && l.includes('app="rot"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  const figures = {
    tokens: count,
    sentBeforeSwitch: quarter,
    keyBTakenOverMs: takenOverMs,
    acceptedWithA: stats.acceptedByKey[keyA.keyId] ?? 0,
    acceptedWithB: stats.acceptedByKey[keyB.keyId] ?? 0,
    rejected: stats.rejected,
    retried,
    duplicates: summary.duplicates,
  };
  process.stdout.write(`# rotation figures: ${JSON.stringify(figures)}\n`);

  const rejected = Object.values(final.rejected).reduce((a, b) => a + b, 0);
  assert.equal(final.total, count);
  assert.equal(final.accepted, count);
  assert.equal(final.delivered, count, JSON.stringify(final));
  assert.equal(final.failed, 0, JSON.stringify(final.failedReasons));
  assert.equal(rejected, 0, JSON.stringify(final.rejected));
  assert.equal(final.delivered + rejected + final.failed + final.expired + final.cancelled, final.accepted);
  // The simulator refused nothing: nothing was signed with A after it was revoked.
  assert.deepEqual(stats.rejected, {});
  assert.equal(stats.acceptedByKey[keyA.keyId], atRevoke.acceptedByKey[keyA.keyId]);
  assert.ok(figures.acceptedWithB > 0 && figures.acceptedWithA > 0);
  assert.equal(figures.acceptedWithA + figures.acceptedWithB, stats.accepted);
  assert.equal(summary.tokens, count, 'every token reached the simulator');
  assert.equal(retried, 0, 'no token needed a retry');
});
