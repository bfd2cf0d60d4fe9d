import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadConfig } from '@pushfleet/config';
import { appQueueName, createRedis, DirectProducer } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import { createLogger } from '@pushfleet/telemetry';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startStack,
} from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { type ExpressThread, startExpressThread } from '../src/express-thread.ts';
import { type Lane, startLane } from '../src/lane.ts';

/**
 * The worker's two lanes, as the worker process runs them: the `deliver` lane on this (the main)
 * thread, the express lane on a thread of its own (started from the worker's entry module). With
 * the main thread's event loop held (as a campaign's batches hold it, here for 3 s at once), a
 * one-token notification is still delivered, and a two-token one is not.
 */

let redis: StartedRedis;
let stack: Stack;
let conn: Redis;
let producer: DirectProducer;
let lane: Lane;
let express: ExpressThread;
let threadExit: number | undefined;

before(async () => {
  redis = await startRedis();
  // The simulator, a provider key and a config file; no fleet process (this test is the worker).
  stack = await startStack({ redisUrl: redis.url, prefix: `test-${randomUUID()}`, apps: [] });
  const config = loadConfig({ PUSHFLEET_CONFIG: stack.configFile });
  const log = createLogger({ name: 'worker', level: 'warn' });
  lane = await startLane({ config, log, registry: new Registry(), queues: [appQueueName] });
  express = await startExpressThread(new URL('../src/main.ts', import.meta.url), config, log, (code) => {
    threadExit = code;
  });
  await Promise.all([lane.attach(), express.attach()]);
  conn = createRedis(redis.url, 'producer');
  await conn.connect();
  producer = new DirectProducer({
    connection: conn,
    prefix: config.redis.prefix,
    app: () => ({ bundleId: stack.bundleId, environments: [stack.sim.environment] }),
    ledger: new Ledger(conn, config.redis.prefix),
  });
});

after(async () => {
  await express?.close();
  for (const part of lane?.parts ?? []) await part.close();
  await producer?.close();
  conn?.disconnect();
  await stack?.stop();
  await redis?.stop();
});

/** Holds this thread's event loop (no timer, no I/O callback runs) for `ms`. */
function holdEventLoop(ms: number): number {
  const start = Date.now();
  while (Date.now() - start < ms) {
    // busy: what a long turn of batch work looks like to everything else on this loop
  }
  return Date.now();
}

test('a one-token notification is delivered while the main event loop is held; a batch waits for it', async () => {
  assert.equal(await express.ready(), true);
  const [single, ...pair] = randomDeviceTokens(3) as [string, string, string];
  await producer.send(stack.appId, { tokens: [single], notification: { alert: 'express' } });
  await producer.send(stack.appId, { tokens: pair, notification: { alert: 'deliver' } });
  const released = holdEventLoop(3000);

  const [express1] = await stack.sim.control.deliveries(single);
  assert.ok(express1, 'the single was delivered');
  assert.ok(
    express1.receivedAt < released,
    `delivered ${express1.receivedAt - released} ms relative to the release: during the hold`,
  );
  // The control: the main thread's lane could not move while held.
  let batch: { receivedAt: number } | undefined;
  for (let i = 0; i < 100 && !batch; i++) {
    [batch] = await stack.sim.control.deliveries(pair[0]);
    if (!batch) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(batch, 'the batch was delivered after the hold');
  assert.ok(batch.receivedAt >= released, 'the batch waited for the main event loop');
});

test('the express thread answers readiness and metrics; it keeps running until closed', async () => {
  assert.equal(await express.ready(), true);
  const metrics = await express.metrics();
  const delivered = metrics.find((m) => m.name === 'pushfleet_notifications_total');
  const sum = delivered?.values.reduce((n, v) => n + v.value, 0) ?? 0;
  assert.ok(sum >= 1, `the thread counted its delivery (${sum})`);
  assert.equal(threadExit, undefined);
});
