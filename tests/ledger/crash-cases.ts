import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SendResult } from '@pushfleet/core';
import { createRedis } from '@pushfleet/queue';
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
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { buildApi } from '../../apps/api/src/server.ts';
import { app, appConfig, type Rig, recordOf, reportedTokens, seeded, stopProcess } from './harness.ts';

/**
 * The ledger's promise, proven by stopping the code at every Redis call in turn: a producer
 * accepting a request, a worker delivering a notification (with rejections and retries), a
 * fan-out expanding a campaign, a cancel. Each call fails before or after Redis runs it, with the
 * process living on (an error) or dying there (nothing more reaches Redis); then a fresh process
 * (a client's retry, the fleet's take-over of stalled jobs) carries on, and the invariants are
 * checked: counters reconcile, every accepted token has exactly one outcome, every token that
 * should reach APNs did, duplicates stay within one checkpoint slice (100), nothing is stuck.
 * Every call × 4 modes in CI; PF_HEAVY=1 adds random seeds.
 *
 * This file holds what the crash-point tests share (crash-points-*.test.ts): the scripted APNs
 * answers, the fault plans, the invariants of a delivered record, an api in this process whose
 * Redis connection fails per plan. The tests are split over files so each stays well inside the
 * runner's per-file timeout.
 */

/** The Redis server a test file's cases share (each case runs under a key prefix of its own). */
export function redisServer(): { readonly url: string } {
  let server: StartedRedis | undefined;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });
  return {
    get url() {
      return server!.url;
    },
  };
}
export const heavy = process.env.PF_HEAVY === '1';
export const width = Number(process.env.PF_CRASH_WIDTH ?? 12);
export const accepted: SendResult = { kind: 'accepted', apnsId: undefined };
/** Every 40th token is dead; every 9th gets a 503 on its first send. */
export const script = (t: string, nth: number): SendResult => {
  const i = Number.parseInt(t, 16);
  if (i % 40 === 0) return { kind: 'rejected', status: 400, reason: 'BadDeviceToken' };
  if (i % 9 === 0 && nth === 0) return { kind: 'rejected', status: 503, reason: 'ServiceUnavailable' };
  return accepted;
};
export const dead = (tokens: string[]) => tokens.filter((t) => Number.parseInt(t, 16) % 40 === 0);
export const retriedOnce = (tokens: string[]) =>
  tokens.filter((t) => Number.parseInt(t, 16) % 9 === 0 && Number.parseInt(t, 16) % 40 !== 0);

/** Every call × every mode, or (heavy) the same plus random ones. */
export function plans(calls: number, seed: number): { plan: FaultPlan; label: string }[] {
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
export async function assertDelivered(r: Rig, id: string, tokens: string[], where: string): Promise<void> {
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

export type InjectRequest = {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string;
};

/** The API in this process, on a given connection. */
export function api(r: Rig, redis: Redis): FastifyInstance {
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
export async function untilAnswered(
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
export async function victimRequest(r: Rig, plan: FaultPlan | undefined, request: InjectRequest) {
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
export async function recordIds(r: Rig): Promise<string[]> {
  const base = `${appSpace(r.prefix, app)}:n:`;
  return (await r.clean.keys(`${base}*`)).map((k) => k.slice(base.length)).filter((k) => !k.includes(':'));
}
