import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { FleetRateLimiter } from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  stackApi,
  startRedis,
  startStack,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

let redisServer: StartedRedis;
let stack: Stack;

before(async () => {
  redisServer = await startRedis();
  stack = await startStack({
    redisUrl: redisServer.url,
    prefix: `test-${randomUUID()}`,
    apps: ['api', 'worker'],
    extraApps: ['unlimited'],
    config: { apps: { demo: { rateLimitPerSecond: 200 } }, worker: { checkpointEvery: 50 } },
  });
});

after(async () => {
  await stack?.stop();
  await redisServer?.stop();
});

test('FleetRateLimiter: a burst of one second passes, then sends are spaced at the rate', async () => {
  const redis = new Redis(redisServer.url);
  try {
    const limiter = new FleetRateLimiter(redis, `test-${randomUUID()}`);
    assert.equal(await limiter.reserve('a', 100, 100), 0, 'one second of burst passes at once');
    const wait = await limiter.reserve('a', 50, 100);
    assert.ok(wait >= 400 && wait <= 520, `then 50 more at 100/s wait about 500 ms, got ${wait}`);
    assert.equal(await limiter.reserve('b', 100, 100), 0, 'apps have separate budgets');
  } finally {
    redis.disconnect();
  }
});

test("an app's rate limit spaces its deliveries and does not slow another app", async () => {
  const limitedApi = stackApi(stack);
  const freeApi = stackApi(stack, 'unlimited');
  const started = Date.now();
  const limited = limitedApi.send(randomDeviceTokens(600)).then((id) => limitedApi.waitDone(id));
  const freeId = await freeApi.send(randomDeviceTokens(600));
  const free = await freeApi.waitDone(freeId);
  const freeMs = Date.now() - started;
  const done = await limited;
  const limitedMs = Date.now() - started;
  assert.equal(done.delivered, 600);
  assert.equal(free.delivered, 600);
  // 600 at 200/s with one second of burst: at least ~2 s.
  assert.ok(limitedMs >= 1800, `the limited app took ${limitedMs} ms`);
  assert.ok(freeMs < limitedMs, `the unlimited app (${freeMs} ms) was not held back`);
});
