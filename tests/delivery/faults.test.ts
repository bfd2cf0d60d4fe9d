import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, test } from 'node:test';
import { PauseStore, storeKeys } from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  stackApi,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

let redisServer: StartedRedis;
let redis: Redis;
let stack: Stack;
const prefix = `test-${randomUUID()}`;

before(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  stack = await startStack({
    redisUrl: redisServer.url,
    prefix,
    extraApps: ['other'],
    apps: ['api', 'worker'],
    config: {
      worker: { retryBaseMs: 50, retryMaxMs: 400, credentialsPauseMs: 1500, requestTimeoutMs: 3000 },
    },
  });
});

afterEach(async () => {
  await stack.sim.control.clearFaults();
});

after(async () => {
  await stack?.stop();
  redis?.disconnect();
  await redisServer?.stop();
});

async function assertDeliveredOnce(tokens: string[]): Promise<void> {
  for (const token of tokens) {
    const deliveries = await stack.sim.control.deliveries(token);
    assert.equal(deliveries.length, 1, `token ${token.slice(0, 8)} delivered ${deliveries.length} times`);
  }
}

test('429 with Retry-After: the token waits at least that long, then is delivered once', async () => {
  const api = stackApi(stack);
  const [limited, ...others] = randomDeviceTokens(20);
  await stack.sim.control.addFault({
    token: limited!,
    status: 429,
    reason: 'TooManyRequests',
    retryAfter: 2,
    count: 1,
  });
  const started = Date.now();
  const id = await api.send([limited!, ...others]);
  const status = await api.waitDone(id);
  assert.equal(status.delivered, 20);
  const [delivery] = await stack.sim.control.deliveries(limited!);
  assert.ok(delivery, 'the rate-limited token was delivered');
  // retryBaseMs is 50 ms here: only the server's Retry-After explains a 2 s wait.
  assert.ok(delivery.receivedAt - started >= 2000, `re-sent after ${delivery.receivedAt - started} ms`);
  await assertDeliveredOnce([limited!, ...others]);
});

test('a 503 storm, then recovery: every token delivered exactly once', async () => {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(300);
  await stack.sim.control.addFault({ status: 503, reason: 'ServiceUnavailable', rate: 1 });
  const before503 = (await stack.sim.control.stats()).rejected.ServiceUnavailable ?? 0;
  const id = await api.send(tokens);
  await waitFor('the storm to reject the first attempt', async () => {
    const stats = await stack.sim.control.stats();
    return (stats.rejected.ServiceUnavailable ?? 0) - before503 >= 300;
  });
  assert.equal((await api.status(id)).delivered, 0);
  await stack.sim.control.clearFaults();
  const status = await api.waitDone(id);
  assert.deepEqual([status.delivered, status.failed, status.rejected], [300, 0, 0]);
  await assertDeliveredOnce(tokens);
});

test('GOAWAY mid-batch: streams the server never processed are re-sent, none twice', async () => {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(1000);
  await stack.sim.control.addFault({ goawayAfter: 150, reason: 'Shutdown', count: 2 });
  const goawaysBefore = (await stack.sim.control.stats()).goaways;
  const id = await api.send(tokens);
  const status = await api.waitDone(id);
  assert.equal(status.delivered, 1000);
  assert.ok((await stack.sim.control.stats()).goaways > goawaysBefore, 'the simulator sent GOAWAY');
  const summary = await stack.sim.control.deliveriesSummary();
  assert.equal(summary.duplicateTokens, 0);
  await assertDeliveredOnce(tokens.slice(0, 50));
});

test('410 Unregistered: rejected with its reason and published to the feedback stream with the timestamp', async () => {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(5);
  const timestamp = 1_700_000_123_456;
  await stack.sim.control.unregister({ token: tokens[2]!, topic: stack.bundleId, timestamp });
  const id = await api.send(tokens);
  const status = await api.waitDone(id);
  assert.deepEqual([status.delivered, status.rejected], [4, 1]);
  assert.deepEqual(status.reasons, { Unregistered: 1 });
  const entries = await redis.xrange(storeKeys.feedbackStream(prefix, stack.appId), '-', '+');
  const event = entries
    .map(([, fields]) => Object.fromEntries(chunkPairs(fields)))
    .find((e) => e.token === tokens[2]);
  assert.deepEqual(event, {
    app: stack.appId,
    environment: stack.sim.environment,
    token: tokens[2],
    reason: 'Unregistered',
    timestamp: String(timestamp),
  });
});

function chunkPairs(fields: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) pairs.push([fields[i]!, fields[i + 1]!]);
  return pairs;
}

test('rejected credentials pause only that app × environment, visibly, and sending resumes once they work', async () => {
  const api = stackApi(stack);
  const other = stackApi(stack, 'other');
  const tokens = randomDeviceTokens(50);
  await stack.sim.control.addFault({ status: 403, reason: 'InvalidProviderToken', count: 1 });
  const id = await api.send(tokens);
  const pauses = new PauseStore(redis, prefix);
  const pause = await waitFor('the app to be paused', async () =>
    (await pauses.all()).find((p) => p.app === stack.appId),
  );
  assert.equal(pause.reason, 'InvalidProviderToken');
  assert.equal(pause.environment, 'sandbox');
  // Another app keeps delivering while the first is paused.
  const otherId = await other.send(randomDeviceTokens(10));
  assert.equal((await other.waitDone(otherId, 5000)).delivered, 10);
  const metrics = await (await fetch(`http://127.0.0.1:${stack.opsPorts.worker}/metrics`)).text();
  assert.match(
    metrics,
    /pushfleet_app_paused\{app="demo",environment="sandbox",reason="InvalidProviderToken"\} 1/,
  );
  const status = await api.waitDone(id);
  assert.deepEqual([status.delivered, status.failed], [50, 0]);
  await waitFor('the pause to be dropped', async () => (await pauses.all()).length === 0);
  await assertDeliveredOnce(tokens);
});

test('the stream limit dropped to 1: delivery goes on, one stream at a time, nothing lost', async () => {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(200);
  await stack.sim.control.addFault({ maxConcurrentStreams: 1 });
  const id = await api.send(tokens);
  const status = await api.waitDone(id);
  assert.equal(status.delivered, 200);
  assert.equal((await stack.sim.control.stats()).rejected.REFUSED_STREAM ?? 0, 0);
  await assertDeliveredOnce(tokens);
});

test('an expired notification is not sent and ends as expired', async () => {
  const api = stackApi(stack);
  const tokens = randomDeviceTokens(3);
  const id = await api.send(tokens, { expiration: Math.floor(Date.now() / 1000) - 10 });
  const status = await api.waitDone(id);
  assert.deepEqual([status.expired, status.delivered], [3, 0]);
  for (const token of tokens) assert.equal((await stack.sim.control.deliveries(token)).length, 0);
});
