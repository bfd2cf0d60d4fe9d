import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Http2Transport,
  type Http2TransportOptions,
  type SendResult,
  type TransportEvents,
  type TransportTarget,
} from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { freePort, generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import { type RunningSimulator, startSimulator } from '../../apps/apns-sim/src/index.ts';

const bundleId = 'com.example.transport';
const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), bundleId);
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;
let sim: RunningSimulator;

async function control(path: string, body?: unknown, method = 'POST') {
  const res = await fetch(`http://127.0.0.1:${sim.controlPort}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json().catch(() => undefined);
}

before(async () => {
  // APNs as observed: one stream until a token connection authenticates; the clock is shared
  // with the transport so JWT ages can be moved forward.
  sim = await startSimulator({ tokenInitialStreams: 1, now: clock, logLevel: 'silent' });
  await control('/keys', { keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
});

after(async () => {
  await sim?.close();
});

function target(overrides: Partial<TransportTarget> = {}): TransportTarget {
  return {
    environment: 'sandbox',
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.port, caPem: sim.caPem },
    connections: 2,
    maxInFlightPerConnection: 100,
    requestTimeoutMs: 2000,
    ...overrides,
  };
}

// Every test runs on both HTTP/2 clients under the transport: Pushfleet's own and node:http2.
const clients = ['lean', 'node-http2'] as const;
let client: (typeof clients)[number] = 'lean';

function clientTest(name: string, fn: () => Promise<void>): void {
  for (const each of clients) {
    test(`${name} [${each}]`, async () => {
      client = each;
      await fn();
    });
  }
}

function newTransport(t: TransportTarget, events: TransportEvents = {}, options: Http2TransportOptions = {}) {
  return new Http2Transport(t, events, { ...options, client });
}

const kinds = (results: SendResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => {
    acc[r.kind] = (acc[r.kind] ?? 0) + 1;
    return acc;
  }, {});

clientTest('starts each connection at one stream until SETTINGS arrive: nothing is refused', async () => {
  const outcomes: string[] = [];
  const transport = newTransport(target(), { onRequest: (_s, result) => outcomes.push(result.kind) });
  try {
    const results = await transport.send(prepared, randomDeviceTokens(500));
    assert.deepEqual(kinds(results), { accepted: 500 });
    assert.equal(
      outcomes.filter((k) => k === 'not-processed').length,
      0,
      'no stream was refused and re-sent',
    );
  } finally {
    await transport.close();
  }
});

clientTest('warm() opens every connection of the pool before the first send, and never hangs', async () => {
  const stats = () =>
    control('/stats', undefined, 'GET') as Promise<{ requests: number; connections: number }>;
  const before = await stats();
  const transport = newTransport(target({ connections: 2 }));
  try {
    await transport.warm();
    const warmed = await stats();
    assert.equal(warmed.connections - before.connections, 2, 'both connections are open');
    assert.equal(warmed.requests, before.requests, 'warming sends no notification');
    assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(20))), { accepted: 20 });
    assert.equal((await stats()).connections, warmed.connections, 'the send used the warm connections');
  } finally {
    await transport.close();
  }
  // Nothing listens on that port: warm() settles, and sends fail as retryable.
  const closedPort = await freePort();
  const unreachable = newTransport(target({ endpoint: { host: '127.0.0.1', port: closedPort } }));
  try {
    await unreachable.warm();
    const [result] = await unreachable.send(prepared, randomDeviceTokens(1));
    assert.equal(result?.kind, 'failed');
  } finally {
    await unreachable.close();
  }
});

clientTest('passes Retry-After and the 410 timestamp through as values', async () => {
  const transport = newTransport(target());
  const [a, b] = randomDeviceTokens(2);
  await control('/faults', { token: a, status: 429, reason: 'TooManyRequests', retryAfter: 7, count: 1 });
  await control('/devices/unregister', { token: b, topic: bundleId, timestamp: 1_600_000_000_000 });
  try {
    const [ra, rb] = await transport.send(prepared, [a!, b!]);
    assert.deepEqual(ra, { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 7 });
    assert.deepEqual(rb, {
      kind: 'rejected',
      status: 410,
      reason: 'Unregistered',
      invalidAt: 1_600_000_000_000,
    });
  } finally {
    await transport.close();
    await control('/faults', undefined, 'DELETE');
  }
});

clientTest('a reset connection fails its in-flight sends as retryable, then reconnects', async () => {
  let reconnects = 0;
  const transport = newTransport(target({ connections: 1 }), { onReconnect: () => reconnects++ });
  try {
    assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(10))), { accepted: 10 });
    await control('/faults', { reset: 'connection', count: 1 });
    const during = await transport.send(prepared, randomDeviceTokens(50));
    assert.ok((kinds(during).failed ?? 0) > 0, 'some sends were lost with the connection');
    assert.ok(during.every((r) => r.kind === 'accepted' || r.kind === 'failed'));
    assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(50))), { accepted: 50 });
    assert.ok(reconnects >= 1);
  } finally {
    await transport.close();
    await control('/faults', undefined, 'DELETE');
  }
});

clientTest('a request with no answer times out as a retryable failure', async () => {
  const transport = newTransport(target({ requestTimeoutMs: 300 }));
  const [slow] = randomDeviceTokens(1);
  await control('/faults', { token: slow, latencyMs: 3000, count: 1 });
  try {
    const started = Date.now();
    const [result] = await transport.send(prepared, [slow!]);
    assert.deepEqual(result, { kind: 'failed', error: 'request timeout' });
    assert.ok(Date.now() - started < 2500);
  } finally {
    await transport.close();
    await control('/faults', undefined, 'DELETE');
  }
});

clientTest(
  'JWT: reused under 20 min, refreshed at 50 min and after ExpiredProviderToken, never too often',
  async () => {
    let refreshes = 0;
    const transport = newTransport(
      target({ connections: 1 }),
      { onTokenRefresh: () => refreshes++ },
      { clock },
    );
    try {
      offsetMs = 0;
      assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(5))), { accepted: 5 });
      offsetMs = 25 * 60_000;
      assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(5))), { accepted: 5 });
      offsetMs = 51 * 60_000; // proactive refresh: a new token on the same connection, 51 min later
      assert.deepEqual(kinds(await transport.send(prepared, randomDeviceTokens(5))), { accepted: 5 });
      const stats = (await (await fetch(`http://127.0.0.1:${sim.controlPort}/stats`)).json()) as {
        rejected: Record<string, number>;
      };
      assert.equal(stats.rejected.TooManyProviderTokenUpdates ?? 0, 0);
      assert.equal(refreshes, 0, 'proactive refreshes are not "expired" refreshes');
    } finally {
      await transport.close();
      offsetMs = 0;
    }
  },
);
