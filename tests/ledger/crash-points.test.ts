import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendResult } from '@pushfleet/core';
import { appQueueName, appQueuePrefix, createRedis } from '@pushfleet/queue';
import { appSpace, storeKeys } from '@pushfleet/store';
import { createApiMetrics, createLogger } from '@pushfleet/telemetry';
import {
  type FaultMode,
  type FaultPlan,
  faultModes,
  interceptRedis,
  type StartedRedis,
  startRedis,
} from '@pushfleet/testkit';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { buildApi } from '../../apps/api/src/server.ts';
import {
  app,
  appConfig,
  finished,
  inParallel,
  type Rig,
  recordOf,
  reportedTokens,
  resumeFleet,
  rig,
  runVictimWorker,
  seeded,
  stopProcess,
  tokenRange,
} from './harness.ts';

/**
 * The ledger's promise, proven by stopping the code at every Redis call in turn: a producer
 * accepting a request, a worker delivering a notification (with rejections and retries), a
 * fan-out expanding a campaign, a cancel. Each call fails before or after Redis runs it, with the
 * process living on (an error) or dying there (nothing more reaches Redis); then a fresh process
 * (a client's retry, the fleet's take-over of stalled jobs) carries on, and the invariants are
 * checked: counters reconcile, every accepted token has exactly one outcome, every token that
 * should reach APNs did, duplicates stay within one checkpoint slice (100), nothing is stuck.
 * Every call × 4 modes in CI; PF_HEAVY=1 adds random seeds.
 */

const heavy = process.env.PF_HEAVY === '1';
const width = Number(process.env.PF_CRASH_WIDTH ?? 12);
let server: StartedRedis;

before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

const accepted: SendResult = { kind: 'accepted', apnsId: undefined };
/** Every 40th token is dead; every 9th gets a 503 on its first send. */
const script = (t: string, nth: number): SendResult => {
  const i = Number.parseInt(t, 16);
  if (i % 40 === 0) return { kind: 'rejected', status: 400, reason: 'BadDeviceToken' };
  if (i % 9 === 0 && nth === 0) return { kind: 'rejected', status: 503, reason: 'ServiceUnavailable' };
  return accepted;
};
const dead = (tokens: string[]) => tokens.filter((t) => Number.parseInt(t, 16) % 40 === 0);
const retriedOnce = (tokens: string[]) =>
  tokens.filter((t) => Number.parseInt(t, 16) % 9 === 0 && Number.parseInt(t, 16) % 40 !== 0);

/** Every call × every mode, or (heavy) the same plus random ones. */
function plans(calls: number, seed: number): { plan: FaultPlan; label: string }[] {
  const out: { plan: FaultPlan; label: string }[] = [];
  for (let at = 1; at <= calls; at++) {
    for (const mode of faultModes) out.push({ plan: { at, mode }, label: `${mode} at call ${at}` });
  }
  if (heavy) {
    const random = seeded(seed);
    for (let i = 0; i < 40; i++) {
      const at = 1 + Math.floor(random() * calls);
      const mode = faultModes[Math.floor(random() * faultModes.length)] as FaultMode;
      out.push({ plan: { at, mode }, label: `seed ${seed}.${i}: ${mode} at call ${at}` });
    }
  }
  return out;
}

/** Invariants of a delivered record: counts reconcile, one outcome per token, bounded duplicates. */
async function assertDelivered(r: Rig, id: string, tokens: string[], where: string): Promise<void> {
  const rec = await recordOf(r, id);
  const n = (f: string) => Number(rec[f] ?? 0);
  assert.equal(n('accepted'), tokens.length, `${where}: accepted`);
  assert.equal(
    n('delivered') + n('rejected') + n('failed') + n('expired') + n('cancelled'),
    tokens.length,
    `${where}: counters reconcile`,
  );
  assert.equal(n('rejected'), dead(tokens).length, `${where}: each dead token rejected once`);
  assert.equal(n('delivered'), tokens.length - dead(tokens).length, `${where}: the rest delivered`);
  const report = await reportedTokens(r, id);
  assert.deepEqual(
    [...report.keys()].sort(),
    dead(tokens).sort(),
    `${where}: the report lists exactly the dead tokens`,
  );
  assert.ok(
    [...report.values()].every((v) => v.length === 1 && v[0] === 'rejected:BadDeviceToken'),
    where,
  );
  const feedback = await r.clean.xlen(storeKeys.feedbackStream(r.prefix, app));
  assert.equal(feedback, dead(tokens).length, `${where}: one feedback event per dead token`);
  for (const t of tokens) assert.ok((r.transport.sends.get(t) ?? 0) >= 1, `${where}: ${t} reached APNs`);
  const duplicates = r.transport.duplicates() - retriedOnce(tokens).length;
  assert.ok(duplicates <= 100, `${where}: ${duplicates} duplicate sends (bound: one slice, 100)`);
}

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

type InjectRequest = { method: string; url: string; headers?: Record<string, string>; payload?: string };

/** The API in this process, on a given connection. */
function api(r: Rig, redis: Redis): FastifyInstance {
  const config = appConfig();
  const registry = new Registry();
  return buildApi({
    config: {
      ...config,
      redis: { ...config.redis, prefix: r.prefix },
      api: { ...config.api, idempotencyLeaseMs: 300 },
    },
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: createLogger({ name: 'api', level: 'silent' }),
    ready: async () => true,
  });
}

/** A request the way the SDK sends it: retried with the same key until it has a final answer. */
async function untilAnswered(
  r: Rig,
  request: InjectRequest,
): Promise<{ statusCode: number; body: string; json(): unknown }> {
  const conn = createRedis(r.url, 'producer');
  await conn.connect();
  const instance = api(r, conn);
  try {
    for (let i = 0; i < 50; i++) {
      const res = await instance.inject(request as never);
      if (res.statusCode !== 409 && res.statusCode !== 503) return res;
      await sleep(100); // a claim whose request died frees itself after the lease (300 ms here)
    }
    throw new Error('no final answer');
  } finally {
    await instance.close();
    conn.disconnect();
  }
}

/** Runs one request on an api whose Redis connection fails per the plan (the client sees whatever comes). */
async function victimRequest(r: Rig, plan: FaultPlan | undefined, request: InjectRequest) {
  const conn = createRedis(r.url, 'producer');
  await conn.connect();
  const faults = interceptRedis(conn);
  const instance = api(r, faults.redis);
  await instance.ready();
  if (plan) faults.arm(plan);
  const start = faults.calls;
  await instance.inject(request as never).catch(() => undefined);
  const calls = faults.calls - start;
  await instance.close().catch(() => undefined);
  await stopProcess(faults);
  return { calls, trace: faults.trace.slice(start) };
}

/** The records an app holds (notifications and campaigns), by id. */
async function recordIds(r: Rig): Promise<string[]> {
  const base = `${appSpace(r.prefix, app)}:n:`;
  return (await r.clean.keys(`${base}*`)).map((k) => k.slice(base.length)).filter((k) => !k.includes(':'));
}

test('producer: an accept stopped at every Redis call, retried by the client with its key: accepted exactly once', {
  timeout: 600_000,
}, async () => {
  const tokens = tokenRange(700, 5001);
  const request = {
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
    payload: JSON.stringify({ tokens, notification: { alert: 'x' } }),
  };
  const uploadTokens = tokenRange(12_000, 90_001);
  const upload = {
    method: 'POST',
    url: `/v1/apps/${app}/campaigns`,
    headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'campaign-1' },
    payload: `${JSON.stringify({ notification: { alert: 'y' } })}\n${uploadTokens.map((t) => JSON.stringify(t)).join('\n')}\n`,
  };
  for (const [name, req, list] of [
    ['notification', request, tokens],
    ['campaign upload', upload, uploadTokens],
  ] as const) {
    const clean = await rig(server.url, () => accepted);
    const { calls, trace } = await victimRequest(clean, undefined, req);
    await clean.close();
    assert.ok(calls >= 3, `${name}: ${trace.join(', ')}`);
    const cases = plans(calls, 3);
    await inParallel(cases, width, async ({ plan, label }) => {
      const r = await rig(server.url, () => accepted);
      try {
        await victimRequest(r, plan, req);
        const answer = await untilAnswered(r, req);
        const where = `${name}, ${label}`;
        assert.equal(answer.statusCode, 202, `${where}: ${answer.body}`);
        const body = answer.json() as { id?: string; campaignId?: string };
        const id = (body.id ?? body.campaignId)!;
        assert.deepEqual(await recordIds(r), [id], `${where}: one record, the answered one`);
        await resumeFleet(r, [id]);
        const rec = await recordOf(r, id);
        assert.deepEqual([rec.accepted, rec.delivered], [String(list.length), String(list.length)], where);
        assert.equal(r.transport.sends.size, list.length, `${where}: every token sent`);
        assert.equal(r.transport.duplicates(), 0, `${where}: none sent twice`);
      } finally {
        await r.close();
      }
    });
    process.stdout.write(`# crash points (producer, ${name}): ${cases.length} cases over ${calls} calls\n`);
  }
});

test('cancel: a cancel stopped at every Redis call, repeated by the client: everything unsent ends cancelled, nothing is sent', {
  timeout: 600_000,
}, async () => {
  const sendAt = new Date(Date.now() + 3600_000).toISOString();
  const kinds = {
    notifications: {
      tokens: tokenRange(1200, 200_001),
      async create(r: Rig, tokens: string[]) {
        return (await r.producer.send(app, { tokens, notification: { alert: 'n' }, sendAt })).id;
      },
    },
    campaigns: {
      tokens: tokenRange(2300, 300_001),
      async create(r: Rig, tokens: string[]) {
        return (await r.producer.createCampaign(app, { notification: { alert: 'c' }, sendAt }, [tokens]))
          .campaignId;
      },
    },
  };
  for (const [kind, { tokens, create }] of Object.entries(kinds)) {
    const del = (id: string) => ({ method: 'DELETE', url: `/v1/apps/${app}/${kind}/${id}` });
    const clean = await rig(server.url, () => accepted);
    const { calls, trace } = await victimRequest(clean, undefined, del(await create(clean, tokens)));
    await clean.close();
    assert.ok(calls >= 3, `${kind}: ${trace.join(', ')}`);
    const cases = plans(calls, 4);
    await inParallel(cases, width, async ({ plan, label }) => {
      const r = await rig(server.url, () => accepted);
      try {
        const id = await create(r, tokens);
        await victimRequest(r, plan, del(id));
        const answer = await untilAnswered(r, del(id));
        const where = `cancel ${kind}, ${label}`;
        assert.equal(answer.statusCode, 202, `${where}: ${answer.body}`);
        const rec = await recordOf(r, id);
        const size = String(tokens.length);
        assert.deepEqual([rec.accepted, rec.cancelled, rec.delivered ?? '0'], [size, size, '0'], where);
        assert.ok(await finished(r, id), `${where}: finished at once, not at sendAt`);
        assert.equal(
          (await reportedTokens(r, id)).size,
          tokens.length,
          `${where}: every cancelled token is in the report`,
        );
        // Whatever jobs remain, run them now: they must send nothing and change no count.
        const queue = new Queue(appQueueName, { connection: r.clean, prefix: appQueuePrefix(r.prefix, app) });
        await queue.promoteJobs();
        await queue.close();
        await resumeFleet(r, [id]);
        assert.equal(r.transport.sends.size, 0, `${where}: nothing sent`);
        assert.deepEqual(await recordOf(r, id), rec, `${where}: counts unchanged`);
      } finally {
        await r.close();
      }
    });
    process.stdout.write(`# crash points (cancel ${kind}): ${cases.length} cases over ${calls} calls\n`);
  }
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
