import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  stackApi,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';

const concurrency = 4;
const checkpointEvery = 100;
let redis: StartedRedis;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await redis?.stop();
});

async function fleet(): Promise<Stack> {
  return startStack({
    redisUrl: redis.url,
    prefix: `test-${randomUUID()}`,
    apps: ['api', 'worker'],
    config: { worker: { concurrency, checkpointEvery, lockDurationMs: 2000, retryBaseMs: 50 } },
  });
}

async function sendMany(stack: Stack, total: number): Promise<{ ids: string[]; tokens: string[] }> {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(total);
  const ids: string[] = [];
  for (let i = 0; i < total; i += 1000) ids.push(await api.send(tokens.slice(i, i + 1000)));
  return { ids, tokens };
}

async function waitAllDone(stack: Stack, ids: string[]) {
  const api = stackApi(stack);
  return Promise.all(ids.map((id) => api.waitDone(id, 60_000)));
}

test('kill -9 of the worker mid-campaign: nothing lost, duplicates within the in-flight window', async (t) => {
  const stack = await fleet();
  try {
    await stack.sim.control.addFault({ latencyMs: 2 });
    const { ids } = await sendMany(stack, 10_000);
    await waitFor(
      'some deliveries before the crash',
      async () => (await stack.sim.control.stats()).deliveriesTotal >= 2500,
      {
        timeoutMs: 30_000,
      },
    );
    await stack.processes.get('worker')!.kill();
    const deliveredAtCrash = (await stack.sim.control.stats()).deliveriesTotal;
    assert.ok(deliveredAtCrash < 10_000, 'the crash happened mid-campaign');
    await stack.spawn('worker');

    const statuses = await waitAllDone(stack, ids);
    const delivered = statuses.reduce((sum, s) => sum + s.delivered, 0);
    const other = statuses.reduce((sum, s) => sum + s.failed + s.rejected + s.expired + s.cancelled, 0);
    assert.deepEqual([delivered, other], [10_000, 0], 'counters reconcile: every token counted once');
    const summary = await stack.sim.control.deliveriesSummary();
    assert.equal(summary.tokens, 10_000, 'every token reached APNs');
    const bound = concurrency * checkpointEvery;
    t.diagnostic(`delivered at crash ${deliveredAtCrash}; duplicates ${summary.duplicates} (bound ${bound})`);
    assert.ok(summary.duplicates! <= bound, `duplicates ${summary.duplicates} within the bound ${bound}`);
  } finally {
    await stack.stop();
  }
});

test('SIGTERM: the worker finishes its batches, exits 0, and a successor completes without duplicates', async () => {
  const stack = await fleet();
  try {
    await stack.sim.control.addFault({ latencyMs: 20 });
    const { ids } = await sendMany(stack, 3000);
    await waitFor(
      'deliveries under way',
      async () => (await stack.sim.control.stats()).deliveriesTotal >= 200,
      {
        timeoutMs: 30_000,
      },
    );
    const code = await stack.processes.get('worker')!.stop(20_000);
    assert.equal(code, 0, 'graceful exit');
    await stack.spawn('worker');
    const statuses = await waitAllDone(stack, ids);
    assert.equal(
      statuses.reduce((sum, s) => sum + s.delivered, 0),
      3000,
    );
    const summary = await stack.sim.control.deliveriesSummary();
    assert.deepEqual([summary.tokens, summary.duplicates], [3000, 0]);
  } finally {
    await stack.stop();
  }
});
