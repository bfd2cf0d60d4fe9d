import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertDelivered, plans, redisServer, script, width } from './crash-cases.ts';
import {
  app,
  inParallel,
  type Rig,
  recordOf,
  resumeFleet,
  rig,
  runVictimWorker,
  tokenRange,
} from './harness.ts';

/** Crash points of the worker: a deliver job and a fan-out (the promise and the method: crash-cases.ts). */
const server = redisServer();

test('deliver: a worker stopped at every Redis call, resumed by the fleet', {
  timeout: 600_000,
}, async () => {
  const tokens = tokenRange(600, 1);
  const setup = async (r: Rig) => {
    const { id } = await r.producer.send(app, { tokens, notification: { alert: 'x' } });
    return id;
  };
  const clean = await rig(server.url, script);
  const id = await setup(clean);
  const run = await runVictimWorker(clean, undefined);
  await resumeFleet(clean, [id]);
  await assertDelivered(clean, id, tokens, 'no fault');
  await clean.close();
  assert.ok(run.calls >= 10, `the clean run made ${run.calls} calls: ${run.trace.join(', ')}`);
  const cases = plans(run.calls, 1);
  await inParallel(cases, width, async ({ plan, label }) => {
    const r = await rig(server.url, script);
    try {
      const caseId = await setup(r);
      await runVictimWorker(r, plan);
      await resumeFleet(r, [caseId]);
      await assertDelivered(r, caseId, tokens, `deliver, ${label}`);
    } finally {
      await r.close();
    }
  });
  process.stdout.write(`# crash points (deliver): ${cases.length} cases over ${run.calls} calls\n`);
});

test('fan-out: a campaign worker stopped at every Redis call, resumed by the fleet', {
  timeout: 600_000,
}, async () => {
  const tokens = tokenRange(2300, 1);
  const tuning = { pageSize: 1000 };
  const setup = async (r: Rig) => {
    const { campaignId } = await r.producer.createCampaign(app, { notification: { alert: 'x' } }, [tokens]);
    return campaignId;
  };
  const clean = await rig(server.url, script);
  const id = await setup(clean);
  const run = await runVictimWorker(clean, undefined, tuning);
  await resumeFleet(clean, [id], tuning);
  await assertDelivered(clean, id, tokens, 'no fault');
  await clean.close();
  const cases = plans(run.calls, 2);
  await inParallel(cases, width, async ({ plan, label }) => {
    const r = await rig(server.url, script);
    try {
      const caseId = await setup(r);
      await runVictimWorker(r, plan, tuning);
      await resumeFleet(r, [caseId], tuning);
      await assertDelivered(r, caseId, tokens, `fan-out, ${label}`);
      const rec = await recordOf(r, caseId);
      assert.deepEqual([rec.total, rec.queued, rec.fanoutDone], ['2300', '2300', '1'], label);
    } finally {
      await r.close();
    }
  });
  process.stdout.write(`# crash points (fan-out): ${cases.length} cases over ${run.calls} calls\n`);
});

test('two runs of one batch: a worker that lost its lock (a Redis outage longer than it) stops at its next step', {
  timeout: 60_000,
}, async () => {
  const tokens = tokenRange(500, 700_001);
  const r = await rig(server.url, script);
  try {
    const { id } = await r.producer.send(app, { tokens, notification: { alert: 'x' } });
    // The first worker hangs inside its second slice (as if Redis and APNs went silent) past its lock.
    let release: () => void = () => undefined;
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slices = 0;
    const stale = {
      async send(prepared: Parameters<typeof r.transport.send>[0], list: readonly string[]) {
        if (++slices === 2) await hung;
        return r.transport.send(prepared, list);
      },
      close: async () => undefined,
    };
    const first = runVictimWorker({ ...r, transport: stale as never }, undefined);
    await sleep(200);
    // The fleet takes the stalled job over and finishes the batch.
    await resumeFleet(r, [id]);
    const settled = await recordOf(r, id);
    release();
    await first;
    await assertDelivered(r, id, tokens, 'stale run');
    assert.deepEqual(await recordOf(r, id), settled, 'the stale run changed no count');
  } finally {
    await r.close();
  }
});
