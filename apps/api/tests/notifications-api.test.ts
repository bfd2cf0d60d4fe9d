import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type AppQueues, deliverQueueName } from '@pushfleet/queue';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { emptyAppQueues, startTestApi, type TestApi } from './helpers.ts';

let t: TestApi;
let api: FastifyInstance;
let redis: Redis;
let prefix: string;
let queues: AppQueues;
const token = 'a1'.repeat(32);

before(async () => {
  t = await startTestApi();
  ({ api, redis, prefix } = t);
  queues = t.queues;
});

after(async () => {
  await t.close();
});

async function queuedJobs(): Promise<number> {
  const counts = await queues.queue('demo').getJobCounts('wait', 'delayed', 'prioritized', 'active');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function keysUnderPrefix(): Promise<string[]> {
  return redis.keys(`${prefix}:app:*`);
}

const post = (body: string, app = 'demo', contentType = 'application/json') =>
  api.inject({
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    headers: { 'content-type': contentType },
    body,
  });

test('accepts a valid request: 202 with id and count, one job, status readable', async () => {
  const res = await post(
    JSON.stringify({ tokens: [token, token.toUpperCase(), 'b2'.repeat(32)], notification: { alert: 'hi' } }),
  );
  assert.equal(res.statusCode, 202);
  const body = res.json() as { id: string; accepted: number };
  assert.equal(body.accepted, 2, 'duplicate tokens (any case) collapse to one');
  const [job] = await queues.queue('demo').getJobs(['prioritized']);
  assert.equal(job?.data.notificationId, body.id);
  assert.deepEqual(job?.data.tokens, [token, 'b2'.repeat(32)]);
  assert.equal(job?.data.prepared.headers['apns-topic'], 'com.example.demo');
  const status = await api.inject({ method: 'GET', url: `/v1/apps/demo/notifications/${body.id}` });
  assert.equal(status.statusCode, 200);
  assert.equal(status.json().accepted, 2);
  assert.equal(status.json().state, 'queued');
  await emptyAppQueues(queues, 'demo');
  await redis.del(...(await keysUnderPrefix()));
});

const badRequests: {
  name: string;
  body: string;
  app?: string;
  status: number;
  code: string;
  field?: string;
}[] = [
  { name: 'malformed JSON', body: '{"tokens": [', status: 400, code: 'PF_ERR_INVALID_JSON' },
  {
    name: 'unknown app',
    body: JSON.stringify({ tokens: [token], notification: {} }),
    app: 'nope',
    status: 404,
    code: 'PF_ERR_UNKNOWN_APP',
    field: 'app',
  },
  {
    name: 'empty tokens',
    body: JSON.stringify({ tokens: [], notification: { alert: 'x' } }),
    status: 400,
    code: 'PF_ERR_EMPTY_TOKENS',
    field: 'tokens',
  },
  {
    name: 'non-hex token',
    body: JSON.stringify({ tokens: [token, 'zz'.repeat(32)], notification: {} }),
    status: 400,
    code: 'PF_ERR_BAD_DEVICE_TOKEN',
    field: 'tokens.1',
  },
  {
    name: 'odd-length token',
    body: JSON.stringify({ tokens: ['abc'], notification: {} }),
    status: 400,
    code: 'PF_ERR_BAD_DEVICE_TOKEN',
    field: 'tokens.0',
  },
  {
    name: 'payload over 4096 bytes',
    body: JSON.stringify({ tokens: [token], notification: { alert: 'x'.repeat(4100) } }),
    status: 400,
    code: 'PF_ERR_PAYLOAD_TOO_LARGE',
    field: 'notification',
  },
  {
    name: 'wrong type',
    body: JSON.stringify({ tokens: [token], notification: { badge: 'one' } }),
    status: 400,
    code: 'PF_ERR_VALIDATION',
    field: 'notification.badge',
  },
  {
    name: 'unknown field',
    body: JSON.stringify({ tokens: [token], notification: {}, extra: 1 }),
    status: 400,
    code: 'PF_ERR_VALIDATION',
  },
  {
    name: 'environment not enabled',
    body: JSON.stringify({ tokens: [token], notification: {}, environment: 'production' }),
    status: 400,
    code: 'PF_ERR_ENVIRONMENT_NOT_ENABLED',
    field: 'environment',
  },
  { name: 'not an object', body: '[1,2]', status: 400, code: 'PF_ERR_VALIDATION' },
  {
    name: 'too many tokens',
    body: JSON.stringify({
      tokens: Array.from({ length: 1001 }, (_, i) => i.toString(16).padStart(64, '0')),
      notification: {},
    }),
    status: 400,
    code: 'PF_ERR_TOO_MANY_TOKENS',
    field: 'tokens',
  },
];

for (const c of badRequests) {
  test(`bad input — ${c.name}: ${c.status} ${c.code}, nothing enqueued`, async () => {
    const res = await post(c.body, c.app);
    assert.equal(res.statusCode, c.status, res.body);
    const body = res.json() as { code: string; message: string; field?: string };
    assert.equal(body.code, c.code);
    assert.equal(typeof body.message, 'string');
    if (c.field) assert.equal(body.field, c.field);
    assert.equal(await queuedJobs(), 0);
    assert.deepEqual(await keysUnderPrefix(), []);
  });
}

test('wrong content type is 415 with a code', async () => {
  const res = await post('tokens=1', 'demo', 'application/x-www-form-urlencoded');
  assert.equal(res.statusCode, 415);
  assert.equal(res.json().code, 'PF_ERR_UNSUPPORTED_MEDIA_TYPE');
});

test('unknown notification id and unknown route are 404 with codes', async () => {
  const res = await api.inject({ method: 'GET', url: `/v1/apps/demo/notifications/${randomUUID()}` });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().code, 'PF_ERR_NOT_FOUND');
  const route = await api.inject({ method: 'GET', url: '/v2/nothing' });
  assert.equal(route.json().code, 'PF_ERR_NOT_FOUND');
});

test('serves /metrics and /healthz', async () => {
  const health = await api.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
  const metrics = await api.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /pushfleet_http_requests_total/);
});

test('deliver queue names are per app', () => {
  assert.equal(deliverQueueName('demo'), 'deliver-demo');
});

test('error answers are counted by their stable code', async () => {
  await post('{"tokens": [');
  const metrics = await api.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /pushfleet_errors_total\{code="PF_ERR_INVALID_JSON"\} [1-9]/);
});
