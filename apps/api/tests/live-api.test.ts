import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ChannelClient } from '@pushfleet/apns';
import { configSchema } from '@pushfleet/config';
import type { BroadcastDeliverJobData, DeviceDeliverJobData } from '@pushfleet/core';
import { AppQueues, createRedis, pendingWork } from '@pushfleet/queue';
import { createApiMetrics, createLogger } from '@pushfleet/telemetry';
import {
  FakeTransport,
  generateProviderKey,
  type RunningSimulatorProcess,
  type StartedRedis,
  startRedis,
  startSimulatorProcess,
  waitFor,
} from '@pushfleet/testkit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { startInProcessWorker } from '../../worker/tests/in-process-worker.ts';
import { buildApi } from '../src/server.ts';

// Live Activities, channels and broadcasts through the api, in process, over a real Redis, with
// the simulator (a process) as APNs' channel-management API: a channel limit of 3 stands in for
// APNs' 10,000.

const bundleId = 'com.example.match';
const key = generateProviderKey();
const tok = (n: number) => n.toString(16).padStart(64, '0');
let server: StartedRedis;
let sim: RunningSimulatorProcess;
let redis: Redis;
let api: FastifyInstance;
let queues: AppQueues;
let direct: ChannelClient;
let prefix: string;

before(async () => {
  [server, sim] = await Promise.all([startRedis(), startSimulatorProcess({ channelLimit: 3 })]);
  await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  const dir = mkdtempSync(join(tmpdir(), 'pf-live-'));
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
  prefix = `test-${randomUUID()}`;
  const config = configSchema.parse({
    redis: { url: server.url, prefix },
    apps: {
      sports: {
        bundleId,
        environments: ['sandbox'],
        credentials: { type: 'token', keyFile, keyId: key.keyId, teamId: key.teamId },
        endpoint: { host: '127.0.0.1', port: sim.port, channelPort: sim.channelPort, caFile: sim.caFile },
      },
      legacy: {
        bundleId: 'com.example.legacy',
        environments: ['sandbox'],
        credentials: { type: 'certificate', certFile: '/dev/null', keyFile: '/dev/null' },
      },
    },
    worker: { requestTimeoutMs: 3000 },
  });
  redis = createRedis(server.url, 'producer');
  await redis.connect();
  const registry = new Registry();
  api = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: createLogger({ name: 'live-api-test', level: 'silent' }),
    ready: async () => true,
  });
  await api.ready();
  queues = new AppQueues(redis, prefix);
  direct = new ChannelClient({
    environment: 'sandbox',
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.channelPort, caPem: sim.caPem },
    requestTimeoutMs: 3000,
  });
});

after(async () => {
  await api?.close();
  await direct?.close();
  await queues?.close();
  redis?.disconnect();
  await Promise.allSettled([sim?.stop(), server?.stop()]);
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers = {}) =>
  api.inject({ method, url, ...(payload === undefined ? {} : { payload }), headers });
const channels = '/v1/apps/sports/channels';

async function job<T>(id: string): Promise<T> {
  const jobs = await Promise.all(
    queues.appQueues('sports').map((q) => q.getJobs(['prioritized', 'wait', 'delayed'])),
  );
  const found = jobs.flat().find((j) => j.data.notificationId === id);
  assert.ok(found, `a job for ${id}`);
  return found.data as T;
}

test('channel lifecycle at APNs: create (policy 0 and 1), list, show, name taken, the 10,000 limit, delete', async () => {
  const live = await call('POST', channels, {
    name: 'match-1',
    messageStoragePolicy: 0,
    metadata: { home: 'Lyon' },
  });
  assert.equal(live.statusCode, 201, live.body);
  const stored = await call('POST', channels, { name: 'match-2' });
  assert.equal(stored.statusCode, 201, stored.body);
  const atApns = await sim.control.channels(bundleId);
  const policy = (id: string) => atApns.find((c) => c.channelId === id)?.messageStoragePolicy;
  assert.equal(policy(live.json().channelId), 0);
  assert.equal(policy(stored.json().channelId), 1, 'policy 1 is the default');
  assert.deepEqual(live.json().metadata, { home: 'Lyon' });

  const taken = await call('POST', channels, { name: 'match-1' });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().code, 'PF_ERR_CHANNEL_EXISTS');
  assert.equal((await sim.control.channels(bundleId)).length, 2, 'a taken name costs no channel at APNs');

  assert.equal((await call('POST', channels, { name: 'match-3' })).statusCode, 201);
  const over = await call('POST', channels, { name: 'match-4' });
  assert.equal(over.statusCode, 409);
  assert.equal(over.json().code, 'PF_ERR_CHANNEL_LIMIT');
  assert.match(over.json().message, /10,000|limit/i);

  const list = await call('GET', channels);
  assert.deepEqual(
    list.json().items.map((c: { name: string }) => c.name),
    ['match-1', 'match-2', 'match-3'],
  );
  assert.equal((await call('GET', `${channels}/match-2`)).json().channelId, stored.json().channelId);

  // Deleted at APNs behind Pushfleet's back: reading it finds out and forgets it.
  assert.equal((await direct.delete(bundleId, stored.json().channelId)).kind, 'ok');
  const gone = await call('GET', `${channels}/match-2`);
  assert.equal(gone.statusCode, 404);
  assert.equal((await call('GET', `${channels}/match-2`)).json().message, 'no such channel');

  assert.equal((await call('DELETE', `${channels}/match-3`)).statusCode, 204);
  const deleted = (await sim.control.channels(bundleId)).filter((c) => c.deletedAt !== null).length;
  assert.equal(deleted, 2);
  assert.equal((await call('DELETE', `${channels}/match-3`)).statusCode, 404);
  assert.equal((await call('GET', `${channels}/a%20b`)).json().field, 'channel');
});

test('broadcasts: enqueued with the channel id, policy-0 expiration rule, idempotent, status readable', async () => {
  const made = await call('POST', channels, { name: 'final', messageStoragePolicy: 0 });
  assert.equal(made.statusCode, 201, made.body);
  const url = `${channels}/final/broadcasts`;
  const bad = await call('POST', url, {
    notification: { event: 'update', contentState: { h: 1 }, expiration: 5 },
  });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual([bad.json().code, bad.json().field], ['PF_ERR_VALIDATION', 'notification.expiration']);
  const start = await call('POST', url, {
    notification: {
      event: 'start',
      contentState: {},
      alert: { title: 't', body: 'b' },
      attributesType: 'A',
      attributes: {},
    },
  });
  assert.equal(start.json().field, 'notification.event', 'a broadcast never starts an activity');

  const body = { notification: { event: 'update', contentState: { home: 1, away: 0 } } };
  const sent = await call('POST', url, body, { 'idempotency-key': 'goal-1' });
  assert.equal(sent.statusCode, 202, sent.body);
  const again = await call('POST', url, body, { 'idempotency-key': 'goal-1' });
  assert.equal(again.json().id, sent.json().id);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  await call('POST', channels, { name: 'final-2', messageStoragePolicy: 0 });
  const elsewhere = await call('POST', `${channels}/final-2/broadcasts`, body, {
    'idempotency-key': 'goal-1',
  });
  assert.equal(elsewhere.statusCode, 422, 'the key names a broadcast to another channel');
  assert.equal((await call('DELETE', `${channels}/final-2`)).statusCode, 204);
  const data = await job<BroadcastDeliverJobData>(sent.json().id);
  assert.deepEqual(data.broadcast, { channelId: made.json().channelId });
  assert.deepEqual(data.tokens, ['final']);
  assert.equal(data.prepared.headers['apns-expiration'], '0');
  assert.equal(data.prepared.bundleId, bundleId);
  const status = await call('GET', `/v1/apps/sports/broadcasts/${sent.json().id}`);
  assert.deepEqual(
    { ...status.json(), createdAt: undefined },
    {
      id: sent.json().id,
      app: 'sports',
      environment: 'sandbox',
      channel: 'final',
      state: 'queued',
      outcome: null,
      reason: null,
      createdAt: undefined,
      finishedAt: null,
    },
  );
  assert.equal((await call('GET', `/v1/apps/sports/notifications/${sent.json().id}`)).statusCode, 404);
  assert.equal((await call('POST', `${channels}/nope/broadcasts`, body)).json().code, 'PF_ERR_NOT_FOUND');
});

test('token registries: push-to-start tokens per type and user; activity tokens rotate', async () => {
  const p = `/v1/apps/sports/live-activities/push-to-start/${tok(1).toUpperCase()}`;
  const reg = await call('PUT', p, { attributesType: 'MatchAttributes', userId: 'u1' });
  assert.equal(reg.statusCode, 200, reg.body);
  assert.equal(reg.json().token, tok(1));
  assert.equal((await call('GET', `${p}?attributesType=MatchAttributes`)).json().userId, 'u1');
  assert.equal((await call('GET', `${p}?attributesType=Other`)).statusCode, 404);
  assert.equal((await call('PUT', p, { userId: 'u1' })).json().field, 'attributesType');

  const a = '/v1/apps/sports/live-activities/activities/match-9';
  assert.equal(
    (await call('PUT', a, { token: tok(2), userId: 'u1', attributesType: 'MatchAttributes' })).statusCode,
    200,
  );
  const rotated = await call('PUT', a, { token: tok(3) });
  assert.equal(rotated.json().token, tok(3));
  assert.equal(rotated.json().userId, 'u1', 'a rotation keeps the user');
  assert.equal((await call('GET', a)).json().token, tok(3));
  assert.equal(
    (await call('PUT', '/v1/apps/sports/live-activities/activities/a:b', { token: tok(2) })).json().field,
    'activityId',
  );
});

test('Live Activity pushes: topic suffix, user ids resolved (start: push-to-start tokens; update: activity ids)', async () => {
  const url = '/v1/apps/sports/live-activities';
  const start = {
    event: 'start',
    contentState: { home: 0, away: 0 },
    alert: { title: 'Kick-off', body: 'Lyon – Nantes' },
    attributesType: 'MatchAttributes',
    attributes: { home: 'Lyon' },
  };
  const started = await call('POST', url, { userIds: ['u1', 'nobody'], notification: start });
  assert.equal(started.statusCode, 202, started.body);
  assert.equal(started.json().accepted, 1);
  const startJob = await job<DeviceDeliverJobData>(started.json().id);
  assert.deepEqual(startJob.tokens, [tok(1)]);
  assert.equal(startJob.target, undefined);
  assert.equal(startJob.prepared.headers['apns-topic'], `${bundleId}.push-type.liveactivity`);

  const updated = await call('POST', url, {
    userIds: ['u1'],
    notification: { event: 'update', contentState: { home: 1 } },
  });
  const updateJob = await job<DeviceDeliverJobData>(updated.json().id);
  assert.deepEqual([updateJob.tokens, updateJob.target], [['match-9'], 'activity']);

  const byId = await call('POST', url, {
    activityIds: ['match-9'],
    notification: { event: 'end', contentState: {}, dismissalDate: 0 },
  });
  assert.equal(byId.statusCode, 202, byId.body);
  assert.equal((await call('GET', `/v1/apps/sports/notifications/${byId.json().id}`)).json().accepted, 1);
});

test('certificate apps: Live Activity pushes are refused with PF_ERR_TOKEN_AUTH_REQUIRED (400), nothing queued', async () => {
  const update = { event: 'update', contentState: { home: 1 } };
  const live = await call('POST', '/v1/apps/legacy/live-activities', {
    tokens: [tok(4)],
    notification: update,
  });
  assert.equal(live.statusCode, 400);
  assert.deepEqual(
    [live.json().code, live.json().field],
    ['PF_ERR_TOKEN_AUTH_REQUIRED', 'notification.pushType'],
  );
  const viaNotifications = await call('POST', '/v1/apps/legacy/notifications', {
    tokens: [tok(4)],
    notification: { ...update, pushType: 'liveactivity' },
  });
  assert.equal(viaNotifications.json().code, 'PF_ERR_TOKEN_AUTH_REQUIRED');
  assert.equal((await pendingWork(queues.appQueues('legacy'))).ready, 0);
});

test('delivered by the worker (real ledger, scripted APNs): a broadcast ends delivered; ChannelNotRegistered forgets the channel', async () => {
  // Room under the simulator's limit of 3.
  for (const name of ['match-1', 'final'])
    assert.equal((await call('DELETE', `${channels}/${name}`)).statusCode, 204);
  const made = await call('POST', channels, { name: 'semi', messageStoragePolicy: 1 });
  const gone = await call('POST', channels, { name: 'quarter' });
  assert.equal(made.statusCode + gone.statusCode, 402, `${made.body} ${gone.body}`);
  const goneId = gone.json().channelId as string;
  const workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
  const worker = await startInProcessWorker({
    redis: workerRedis,
    prefix,
    apps: ['sports'],
    transport: new FakeTransport((target) =>
      target === `channel:${goneId}`
        ? { kind: 'rejected', status: 400, reason: 'ChannelNotRegistered' }
        : { kind: 'accepted', apnsId: undefined },
    ),
  });
  try {
    const body = { notification: { event: 'update', contentState: { home: 3 } } };
    const ok = (await call('POST', `${channels}/semi/broadcasts`, body)).json().id as string;
    const lost = (await call('POST', `${channels}/quarter/broadcasts`, body)).json().id as string;
    const outcome = async (id: string) => {
      let last: { state: string; outcome: string | null; reason: string | null } | undefined;
      await waitFor(`broadcast ${id}`, async () => {
        last = (await call('GET', `/v1/apps/sports/broadcasts/${id}`)).json();
        return last?.state === 'done';
      });
      return [last!.outcome, last!.reason];
    };
    assert.deepEqual(await outcome(ok), ['delivered', null]);
    assert.deepEqual(await outcome(lost), ['rejected', 'ChannelNotRegistered']);
    await waitFor(
      'quarter forgotten',
      async () => (await call('GET', `${channels}/quarter`)).statusCode === 404,
    );
    assert.equal((await call('GET', `${channels}/semi`)).statusCode, 200);
  } finally {
    await worker.close();
    workerRedis.disconnect();
  }
});

test('broadcast not enabled for the app at Apple: channel creation answers 502 PF_ERR_APNS_REJECTED naming FeatureNotEnabled', async () => {
  await sim.control.setBroadcastCapability(bundleId, false);
  try {
    const res = await call('POST', channels, { name: 'no-feature' });
    assert.equal(res.statusCode, 502);
    assert.equal(res.json().code, 'PF_ERR_APNS_REJECTED');
    assert.match(res.json().message, /FeatureNotEnabled/);
    assert.equal((await call('GET', `${channels}/no-feature`)).statusCode, 404, 'nothing stored');
  } finally {
    await sim.control.setBroadcastCapability(bundleId, true);
  }
});
