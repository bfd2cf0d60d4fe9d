import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readLegacyFeedback } from '@pushfleet/apns';
import { DeviceRegistry, FeedbackFeed } from '@pushfleet/store';
import {
  type RunningSimulatorProcess,
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startSimulatorProcess,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

const bundleId = 'com.example.legacy';
let server: StartedRedis;
let sim: RunningSimulatorProcess;
let cert: { certPem: string; keyPem: string };
const dir = mkdtempSync(join(tmpdir(), 'pushfleet-legacy-'));

before(async () => {
  [server, sim] = await Promise.all([
    startRedis(),
    startSimulatorProcess({ feedback: true, args: ['--token-length', 'any'] }),
  ]);
  cert = await sim.control.clientCert({ topics: [bundleId] });
});

after(async () => {
  await sim?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const connect = (c = cert) => ({
  host: '127.0.0.1',
  port: sim.feedbackPort!,
  caPem: sim.caPem,
  certPem: c.certPem,
  keyPem: c.keyPem,
  timeoutMs: 5000,
});

test('reads every tuple byte-exactly (any token length), and the list is cleared once read', async () => {
  const entries = [
    { token: 'a1'.repeat(32), timestamp: 1_700_000_000_999 },
    { token: '0f'.repeat(8), timestamp: 4_294_967_295_000 }, // the largest uint32 second
    { token: 'c3'.repeat(100), timestamp: 1_000 },
  ];
  for (const e of entries) await sim.control.unregister({ topic: bundleId, ...e });
  // Another app's token stays on its own list.
  await sim.control.unregister({ token: 'dd'.repeat(32), topic: 'com.example.other', timestamp: 5_000 });

  const tuples = await readLegacyFeedback(connect());
  assert.deepEqual(
    tuples,
    entries.map((e) => ({ time: Math.floor(e.timestamp / 1000), token: e.token })),
  );
  assert.deepEqual(await readLegacyFeedback(connect()), [], 'cleared once read');
  const other = await sim.control.clientCert({ topics: ['com.example.other'] });
  assert.deepEqual(await readLegacyFeedback(connect(other)), [{ time: 5, token: 'dd'.repeat(32) }]);
});

test('a refused certificate, or a server that is not a feedback service, is an error, not an empty list', async () => {
  const untrusted = await sim.control.clientCert({ topics: [bundleId], untrusted: true });
  await assert.rejects(readLegacyFeedback(connect(untrusted)), /handshake|socket|disconnected/i);
  // The HTTP/2 provider port answers TLS, then frames that are not tuples.
  await assert.rejects(
    readLegacyFeedback({ ...connect(), port: sim.port, timeoutMs: 300 }),
    /no EOF within|inside a tuple|handshake|socket|disconnected|EPROTO|alert/i,
  );
});

test('the scheduler process polls the legacy endpoint and retires the tokens by the same rule', async () => {
  const prefix = `test-${randomUUID()}`;
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  writeFileSync(certFile, cert.certPem);
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  const redis = new Redis(server.url);
  const registry = new DeviceRegistry(redis, prefix);
  const [gone, renewed, neverRegistered, untouched] = randomDeviceTokens(4) as string[];
  const failedAt = Date.now() - 60_000;
  let stack: Stack | undefined;
  try {
    stack = await startStack({
      redisUrl: server.url,
      prefix,
      bundleId,
      apps: ['scheduler'],
      config: {
        scheduler: { feedbackPollSeconds: 1, legacyFeedbackPollSeconds: 1 },
        apps: {
          demo: {
            feedback: {
              legacyEndpoint: {
                host: '127.0.0.1',
                port: sim.feedbackPort,
                caFile: sim.caFile,
                certFile,
                keyFile,
              },
            },
          },
        },
      },
    });
    const env = stack.sim.environment;
    await registry.register('demo', { token: gone!, environment: env }, failedAt - 3600_000);
    await registry.register('demo', { token: renewed!, environment: env }, failedAt + 5000);
    await registry.register('demo', { token: untouched!, environment: env }, failedAt - 3600_000);
    for (const token of [gone!, renewed!, neverRegistered!]) {
      await sim.control.unregister({ token, topic: bundleId, timestamp: failedAt });
    }
    const feed = new FeedbackFeed(redis, prefix);
    const items = await waitFor(
      'the legacy tuples in the feed',
      async () => {
        const all = await feed.read('demo', null, 100);
        return all.length >= 2 ? all : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const second = Math.floor(failedAt / 1000) * 1000;
    assert.deepEqual(
      items
        .map(({ token, reason, action, timestamp }) => ({ token, reason, action, timestamp }))
        .sort((a, b) => a.token.localeCompare(b.token)),
      [
        { token: gone, reason: 'Unregistered', action: 'purged', timestamp: new Date(second).toISOString() },
        {
          token: neverRegistered,
          reason: 'Unregistered',
          action: 'unknown',
          timestamp: new Date(second).toISOString(),
        },
      ].sort((a, b) => a.token!.localeCompare(b.token!)),
    );
    assert.equal(await registry.get('demo', env, gone!), null);
    assert.ok(await registry.get('demo', env, renewed!), 'registered again after the tuple time: kept');
    assert.ok(await registry.get('demo', env, untouched!));
    assert.deepEqual(await readLegacyFeedback(connect()), [], 'the scheduler emptied the list');
    const metrics = await (await fetch(`http://127.0.0.1:${stack.opsPorts.scheduler}/metrics`)).text();
    assert.match(metrics, /pushfleet_legacy_feedback_tuples_total\{app="demo"\} 3/);
  } finally {
    await stack?.stop();
    redis.disconnect();
  }
});
