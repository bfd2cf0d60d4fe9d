import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DeliverJobData } from '@pushfleet/core';
import { createRedis, expressQueueName } from '@pushfleet/queue';
import { appSpace, ledgerKeys } from '@pushfleet/store';
import { type FakeTransport, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { startInProcessWorker } from '../../worker/tests/in-process-worker.ts';
import { emptyAppQueues, startFakeDelivery, startTestApi, type TestApi, token } from './helpers.ts';

let server: StartedRedis;
let t: TestApi;
let workerRedis: Redis;

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server });
  workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
});
after(async () => {
  await t.close();
  workerRedis.disconnect();
  await server.stop();
});

const spec = { name: 'spring sale', notification: { alert: { title: 'Sale', body: '-20%' } } };
const ndjson = (tokens: string[], head: unknown = spec) =>
  `${JSON.stringify(head)}\n${tokens.map((x) => JSON.stringify(x)).join('\n')}\n`;

const upload = (
  payload: string,
  contentType = 'application/x-ndjson',
  headers: Record<string, string> = {},
) =>
  t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/campaigns',
    headers: { 'content-type': contentType, ...headers },
    payload,
  });

const status = async (id: string) =>
  (await t.api.inject({ method: 'GET', url: `/v1/apps/demo/campaigns/${id}` })).json() as Record<
    string,
    unknown
  >;

const fakeDelivery = () => startFakeDelivery(workerRedis, t.prefix);
const appKeys = (pattern: string) => t.redis.keys(`${appSpace(t.prefix, 'demo')}:${pattern}`);

test('uploaded NDJSON campaign: 202 fast, fan-out into deterministic prioritized batches, done', async () => {
  const tokens = Array.from({ length: 12_345 }, (_, i) => token(i + 1));
  const res = await upload(ndjson(tokens));
  assert.equal(res.statusCode, 202, res.body);
  const { campaignId, total } = res.json() as { campaignId: string; total: number };
  assert.equal(total, 12_345);
  assert.equal((await status(campaignId)).state, 'queued');

  const delivery = await fakeDelivery();
  try {
    const done = await waitFor(
      'campaign done',
      async () => {
        const s = await status(campaignId);
        return s.state === 'done' ? s : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual([done.accepted, done.queued, done.delivered], [12_345, 12_345, 12_345]);
    assert.ok(done.finishedAt);
    const sends = (delivery.transport as FakeTransport).sends;
    assert.equal(sends.size, 12_345);
    assert.ok(
      [...sends.values()].every((n) => n === 1),
      'every token sent once',
    );
    const jobs = (await t.queues.queue('demo').getJobs(['completed'])).filter((j) => j.name === 'deliver');
    assert.deepEqual(
      jobs.map((j) => j.id).sort(),
      Array.from({ length: 25 }, (_, i) => `${campaignId}-${i}`).sort(),
    );
    assert.ok(jobs.every((j) => j.opts.priority === 100));
    const space = appSpace(t.prefix, 'demo');
    assert.equal(await t.redis.exists(ledgerKeys.audience(space, campaignId)), 0, 'audience deleted');
    const late = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/campaigns/${campaignId}` });
    assert.equal(late.statusCode, 409);
    assert.equal(late.json().code, 'PF_ERR_CAMPAIGN_FINISHED');
  } finally {
    await delivery.close();
  }
  const list = (await t.api.inject({ method: 'GET', url: '/v1/apps/demo/campaigns' })).json() as {
    items: { id: string; name: string }[];
  };
  assert.ok(list.items.some((c) => c.id === campaignId && c.name === 'spring sale'));
});

test('text/plain upload with the spec in a header; single notifications get priority 1', async () => {
  const res = await upload(`${token(1)}\r\n${token(2)}\n\n${token(3)}`, 'text/plain', {
    'pushfleet-campaign': Buffer.from(JSON.stringify(spec)).toString('base64url'),
  });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.json().total, 3);
  const single = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/other/notifications',
    payload: { tokens: [token(1)], notification: {} },
  });
  // One token: the app's express queue, which workers run on an event loop of its own.
  const [job] = await t.queues.queue('other', expressQueueName).getJobs(['prioritized']);
  assert.ok(job);
  assert.equal((job.data as DeliverJobData).notificationId, single.json().id);
  assert.equal(job.opts.priority, 1);
});

test('bad uploads: a bad line is named and nothing is kept or enqueued', async () => {
  const before = await appKeys('*');
  const jobsBefore = await t.queues.queue('demo').count();
  const cases: { payload: string; type?: string; code: string; field?: string }[] = [
    { payload: ndjson([token(1), 'zz', token(2)]), code: 'PF_ERR_BAD_DEVICE_TOKEN', field: 'line.3' },
    { payload: `${JSON.stringify(spec)}\n"${token(1)}\n`, code: 'PF_ERR_INVALID_JSON', field: 'line.2' },
    {
      payload: ndjson([], { ...spec, notification: { badge: -1 } }),
      code: 'PF_ERR_VALIDATION',
      field: 'notification.badge',
    },
    { payload: ndjson([]), code: 'PF_ERR_EMPTY_AUDIENCE' },
    { payload: 'not json\n', code: 'PF_ERR_INVALID_JSON', field: 'line.1' },
    { payload: token(1), type: 'text/plain', code: 'PF_ERR_VALIDATION', field: 'pushfleet-campaign' },
  ];
  for (const c of cases) {
    const res = await upload(c.payload, c.type);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, c.code, res.body);
    if (c.field) assert.equal(res.json().field, c.field);
  }
  assert.deepEqual((await appKeys('*')).sort(), before.sort());
  assert.equal(await t.queues.queue('demo').count(), jobsBefore);
});

test('scheduled campaign: state scheduled; cancel drops it before any batch', async () => {
  const sendAt = new Date(Date.now() + 3600_000).toISOString();
  const res = await upload(ndjson([token(1), token(2), token(3)], { ...spec, sendAt }));
  const { campaignId } = res.json() as { campaignId: string };
  assert.equal((await status(campaignId)).state, 'scheduled');
  const del = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/campaigns/${campaignId}` });
  assert.equal(del.statusCode, 202);
  const s = del.json() as Record<string, unknown>;
  assert.deepEqual([s.state, s.total, s.accepted, s.cancelled, s.queued], ['cancelled', 3, 3, 3, 0]);
  const again = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/campaigns/${campaignId}` });
  assert.equal(again.statusCode, 202, 'cancel is idempotent');
  assert.equal(again.json().state, 'cancelled');
});

test('cancel during a rate-limited fan-out: remaining batches and unexpanded tokens end cancelled', async () => {
  await emptyAppQueues(t.queues, 'demo');
  const tokens = Array.from({ length: 20_000 }, (_, i) => token(100_000 + i));
  const res = await upload(ndjson(tokens, { ...spec, ratePerSecond: 2000 }));
  const { campaignId } = res.json() as { campaignId: string };
  const delivery = await startInProcessWorker({
    redis: workerRedis,
    prefix: t.prefix,
    apps: ['demo'],
    fanoutTuning: { pageSize: 1000, rateHorizonMs: 500 },
  });
  try {
    await waitFor('some delivered', async () => Number((await status(campaignId)).delivered) > 0, {
      timeoutMs: 10_000,
    });
    const del = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/campaigns/${campaignId}` });
    assert.equal(del.statusCode, 202);
    const final = await waitFor(
      'cancelled',
      async () => {
        const s = await status(campaignId);
        return s.state === 'cancelled' ? s : undefined;
      },
      { timeoutMs: 40_000 },
    );
    assert.equal(final.accepted, 20_000);
    assert.equal(Number(final.delivered) + Number(final.cancelled), 20_000);
    assert.ok(Number(final.cancelled) > 10_000, `cancelled ${final.cancelled}`);
    assert.ok(Number(final.queued) < 20_000, 'the fan-out stopped expanding');
  } finally {
    await delivery.close();
  }
});

test('cancel of a parked registry campaign keeps the audience count: total = delivered + cancelled', async () => {
  for (let i = 0; i < 1200; i++) {
    await t.api.inject({
      method: 'PUT',
      url: `/v1/apps/demo/devices/${token(700_000 + i)}`,
      payload: { tags: ['p'] },
    });
  }
  const res = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/campaigns',
    payload: { ...spec, audience: { kind: 'tags', tags: ['p'] }, ratePerSecond: 500 },
  });
  assert.equal(res.statusCode, 202, res.body);
  const { campaignId } = res.json() as { campaignId: string };
  // Paced at 500/s with a short horizon, the fan-out parks itself (delayed) between pages.
  const delivery = await startInProcessWorker({
    redis: workerRedis,
    prefix: t.prefix,
    apps: ['demo'],
    fanoutTuning: { pageSize: 500, rateHorizonMs: 200 },
  });
  try {
    await waitFor('materialised and started', async () => (await status(campaignId)).total === 1200, {
      timeoutMs: 10_000,
    });
    const del = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/campaigns/${campaignId}` });
    assert.equal(del.statusCode, 202);
    const final = await waitFor(
      'cancelled',
      async () => {
        const s = await status(campaignId);
        return s.state === 'cancelled' ? s : undefined;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(final.total, 1200);
    assert.equal(final.accepted, 1200);
    assert.equal(Number(final.delivered) + Number(final.cancelled), 1200);
  } finally {
    await delivery.close();
  }
});

test('registry audience: tags materialise without duplicates', async () => {
  for (let i = 0; i < 30; i++) {
    await t.api.inject({
      method: 'PUT',
      url: `/v1/apps/demo/devices/${token(500_000 + i)}`,
      payload: { tags: i < 20 ? ['a', 'b'] : ['b'] },
    });
  }
  const res = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/campaigns',
    payload: { ...spec, audience: { kind: 'tags', tags: ['a', 'b'] } },
  });
  assert.equal(res.statusCode, 202, res.body);
  const { campaignId } = res.json() as { campaignId: string };
  const delivery = await fakeDelivery();
  try {
    const s = await waitFor(
      'delivered',
      async () => {
        const x = await status(campaignId);
        return x.state === 'done' ? x : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.deepEqual([s.audience, s.total, s.queued, s.delivered], ['tags', 30, 30, 30]);
  } finally {
    await delivery.close();
  }
});

test('a registry audience over api.maxCampaignTokens is refused before it is accepted', async () => {
  const small = await startTestApi({ maxCampaignTokens: 10 }, { redisServer: server });
  try {
    for (let i = 0; i < 11; i++) {
      await small.api.inject({
        method: 'PUT',
        url: `/v1/apps/demo/devices/${token(900_000 + i)}`,
        payload: {},
      });
    }
    const res = await small.api.inject({
      method: 'POST',
      url: '/v1/apps/demo/campaigns',
      payload: { ...spec, audience: { kind: 'all' } },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.deepEqual([res.json().code, res.json().field], ['PF_ERR_TOO_MANY_TOKENS', 'audience']);
    assert.equal(await small.queuedJobs(), 0);
  } finally {
    await small.close();
  }
});
