import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';

let redis: StartedRedis;
let stack: Stack;

before(async () => {
  redis = await startRedis();
  stack = await startStack({ redisUrl: redis.url, prefix: `test-${randomUUID()}` });
});

after(async () => {
  await stack?.stop();
  await redis?.stop();
});

async function post(body: unknown): Promise<{ id: string; accepted: number }> {
  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 202, await res.clone().text());
  return (await res.json()) as { id: string; accepted: number };
}

async function status(id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications/${id}`);
  return (await res.json()) as Record<string, unknown>;
}

test('an idle app costs nothing: a started worker opens no APNs connection before the app has work', async () => {
  const stats = await stack.sim.control.stats();
  assert.equal(stats.requests, 0);
  assert.equal(stats.openConnections, 0, `open connections: ${stats.openConnections}`);
});

test('api → Redis → worker → simulator delivers exactly the sent tokens, once each', async () => {
  const tokens = randomDeviceTokens(1200);
  const notification = { alert: { title: 'T', body: 'B' }, badge: 2, data: { orderId: 7 } };
  const sent = await Promise.all([
    post({ tokens: tokens.slice(0, 1000), notification }),
    post({ tokens: tokens.slice(1000), notification }),
  ]);
  assert.deepEqual(
    sent.map((s) => s.accepted),
    [1000, 200],
  );

  const finals = await waitFor(
    'both notifications done',
    async () => {
      const all = await Promise.all(sent.map((s) => status(s.id)));
      return all.every((s) => s.state === 'done') ? all : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.deepEqual(
    finals.map((s) => [s.accepted, s.delivered, s.rejected, s.failed]),
    [
      [1000, 1000, 0, 0],
      [200, 200, 0, 0],
    ],
  );

  const summary = await stack.sim.control.deliveriesSummary();
  assert.equal(summary.tokens, 1200);
  assert.equal(summary.deliveries, 1200);
  assert.equal(summary.duplicateTokens, 0);
  for (const token of [tokens[0]!, tokens[999]!, tokens[1199]!]) {
    const deliveries = await stack.sim.control.deliveries(token);
    assert.equal(deliveries.length, 1, `token ${token.slice(0, 8)} delivered once`);
    assert.deepEqual(deliveries[0]!.payload, {
      orderId: 7,
      aps: { alert: { title: 'T', body: 'B' }, badge: 2 },
    });
    assert.equal(deliveries[0]!.headers['apns-topic'], stack.bundleId);
    assert.equal(deliveries[0]!.headers['apns-push-type'], 'alert');
  }
});

test('an unregistered token ends rejected with its reason, and the rest are delivered', async () => {
  const tokens = randomDeviceTokens(3);
  await stack.sim.control.unregister({
    token: tokens[1]!,
    topic: stack.bundleId,
    timestamp: 1_700_000_000_000,
  });
  const { id } = await post({ tokens, notification: { alert: 'x' } });
  const final = await waitFor('done', async () => {
    const s = await status(id);
    return s.state === 'done' ? s : undefined;
  });
  assert.equal(final.delivered, 2);
  assert.equal(final.rejected, 1);
  assert.deepEqual(final.reasons, { Unregistered: 1 });
});

test('worker and scheduler serve Prometheus metrics that count the deliveries', async () => {
  const worker = await (await fetch(`http://127.0.0.1:${stack.opsPorts.worker}/metrics`)).text();
  const delivered = worker.match(/pushfleet_notifications_total\{[^}]*outcome="delivered"[^}]*\} (\d+)/);
  assert.ok(delivered, 'worker exports delivered notifications');
  assert.ok(Number(delivered[1]) >= 1202);
  const scheduler = await fetch(`http://127.0.0.1:${stack.opsPorts.scheduler}/healthz`);
  assert.equal(scheduler.status, 200);
  assert.match(
    await (await fetch(`http://127.0.0.1:${stack.opsPorts.scheduler}/metrics`)).text(),
    /pushfleet_process_/,
  );
});
