// The self-sizing pool against the simulator with a round trip (latency fault) and APNs' start
// at one stream per token connection: it opens connections only while every open one is full
// and requests queue, never more than `max`, and closes them again when the load is gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Http2Client, Http2Transport, type PoolSize, type SendResult } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import { type RunningSimulator, startSimulator } from '../../apps/apns-sim/src/index.ts';

const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.pool');
const rttMs = 40;
let sim: RunningSimulator;

async function control(path: string, body?: unknown, method = 'POST') {
  const res = await fetch(`http://127.0.0.1:${sim.controlPort}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status}`);
  return res.json().catch(() => undefined);
}
const stats = () =>
  control('/stats', undefined, 'GET') as Promise<{ connections: number; rejected: Record<string, number> }>;

before(async () => {
  sim = await startSimulator({ tokenInitialStreams: 1, logLevel: 'silent' });
  await control('/keys', { keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  await control('/faults', { latencyMs: rttMs });
});
after(async () => {
  await sim?.close();
});

function pool(
  client: Http2Client,
  connections: number | PoolSize,
  outcomes: string[] = [],
  sizes: number[] = [],
) {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: sim.port, caPem: sim.caPem },
      connections,
      maxInFlightPerConnection: 20,
      requestTimeoutMs: 5000,
    },
    { onConnectionChange: (open) => sizes.push(open), onRequest: (_s, r) => outcomes.push(r.kind) },
    { client },
  );
}

const accepted = (results: SendResult[]) => results.filter((r) => r.kind === 'accepted').length;

async function timed(run: () => Promise<SendResult[]>) {
  const started = performance.now();
  const results = await run();
  return { results, seconds: (performance.now() - started) / 1000 };
}

for (const client of ['lean', 'node-http2'] as const) {
  test(`[${client}] grows while every connection is full and requests queue, up to max; one stream first`, async () => {
    const outcomes: string[] = [];
    const sizes: number[] = [];
    const before = await stats();
    const grown = pool(client, { min: 1, max: 4 }, outcomes, sizes);
    const fixed = pool(client, 1);
    try {
      await grown.warm();
      await fixed.warm();
      assert.equal((await stats()).connections - before.connections, 2, 'warm opens min (1) per pool');
      // Latency-bound: 20 streams per connection at a 40 ms round trip.
      const one = await timed(() => fixed.send(prepared, randomDeviceTokens(400)));
      const many = await timed(() => grown.send(prepared, randomDeviceTokens(400)));
      assert.equal(accepted(one.results), 400);
      assert.equal(accepted(many.results), 400);
      assert.equal(Math.max(...sizes), 4, `grew to max: sizes ${sizes.join(',')}`);
      assert.ok(grown.stats().connections <= 4);
      assert.equal(outcomes.filter((k) => k === 'not-processed').length, 0, 'no stream was refused');
      assert.ok(
        one.seconds / many.seconds > 1.5,
        `4 connections are faster than 1: ${one.seconds.toFixed(2)} s vs ${many.seconds.toFixed(2)} s`,
      );
    } finally {
      await grown.close();
      await fixed.close();
    }
  });
}

test('does not grow while the load fits: a trickle stays on one connection', async () => {
  const sizes: number[] = [];
  const t = pool('lean', { min: 1, max: 4 }, [], sizes);
  try {
    for (let i = 0; i < 5; i++) assert.equal(accepted(await t.send(prepared, randomDeviceTokens(10))), 10);
    assert.equal(Math.max(...sizes), 1, `sizes ${sizes.join(',')}`);
  } finally {
    await t.close();
  }
});

test('closes extra connections when unused, all of them after idleCloseMs, and reopens on demand', async () => {
  const sizes: number[] = [];
  const t = pool('lean', { min: 1, max: 4, shrinkAfterMs: 150, idleCloseMs: 1000 }, [], sizes);
  try {
    assert.equal(accepted(await t.send(prepared, randomDeviceTokens(400))), 400);
    assert.ok(t.stats().connections > 1, 'grew under load');
    const waitFor = async (what: string, check: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!check()) {
        assert.ok(Date.now() < end, `timed out waiting for ${what}; sizes ${sizes.join(',')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor('shrink to min', () => t.stats().connections === 1, 2000);
    await waitFor('close all when idle', () => t.stats().connections === 0, 3000);
    assert.deepEqual(t.stats(), { connections: 0, inFlight: 0, waiting: 0, streamLimit: 0 });
    assert.equal(accepted(await t.send(prepared, randomDeviceTokens(5))), 5, 'reopens on demand');
    assert.equal(t.stats().connections, 1);
  } finally {
    await t.close();
  }
});
