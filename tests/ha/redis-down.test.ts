import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  type RestartableRedis,
  randomDeviceTokens,
  type Stack,
  stackApi,
  startAofRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { report } from './fleet.ts';

/**
 * Redis unreachable: producers fail fast (503 PF_ERR_REDIS_UNAVAILABLE within a bounded time,
 * nothing accepted), workers wait with backoff and carry on; all recover when Redis returns.
 */
let redis: RestartableRedis;
let stack: Stack;

before(async () => {
  redis = await startAofRedis();
  stack = await startStack({
    redisUrl: redis.url,
    prefix: `ha-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'worker', 'scheduler'],
    config: { redis: { commandTimeoutMs: 1000 } },
  });
});

after(async () => {
  await stack?.stop();
  await redis?.cleanup();
});

async function post(
  tokens: string[],
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tokens, notification: { alert: 'down?', apnsId: randomUUID() } }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: Date.now() - t0 };
}

/** Posts 3 tokens until the api takes them again (Redis back): the accepted answer. */
function acceptedAgain() {
  return waitFor(
    'the api to accept again',
    async () => {
      const a = await post(randomDeviceTokens(3));
      return a.status === 202 ? a : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

test('Redis down: the api answers 503 PF_ERR_REDIS_UNAVAILABLE fast, then recovers; workers carry on', {
  timeout: 60_000,
}, async () => {
  const api = stackApi(stack);
  await api.waitDone(await api.send(randomDeviceTokens(5)));

  await redis.stop('SIGKILL');
  const downAt = Date.now();
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await post(randomDeviceTokens(3)));
  for (const a of answers) {
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.equal(a.body.code, 'PF_ERR_REDIS_UNAVAILABLE');
  }
  const slowest = Math.max(...answers.map((a) => a.ms));
  // Bounded: no request waits on a reconnect (no offline queue), well under the connect timeout.
  assert.ok(slowest < 2500, `slowest 503 took ${slowest} ms`);
  const status = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications/${randomUUID()}`);
  assert.equal(status.status, 503);
  const ready = await fetch(`${stack.apiUrl}/readyz`);
  assert.notEqual(ready.status, 200, '/readyz reports Redis down');

  await redis.start();
  const recovered = await acceptedAgain();
  const recoveryMs = Date.now() - downAt;
  const done = await api.waitDone(String(recovered.body.id));
  assert.equal(done.delivered, 3);
  // Nothing was half-accepted: the simulator saw only the notifications that got a 202.
  const summary = await stack.sim.control.deliveriesSummary();
  assert.equal(summary.deliveries, 5 + 3);
  for (const proc of stack.processes.values()) {
    assert.equal(proc.process.exitCode, null, `${proc.name} still running`);
    // Logs stay JSON through the outage (no raw BullMQ or ioredis errors on stderr).
    assert.deepEqual(proc.nonJsonLines(), [], `${proc.name} logged only JSON`);
  }
  report('redis-down', {
    slowest503Ms: slowest,
    recoveryAfterRestartMs: recoveryMs,
    answers: answers.map((a) => a.ms),
  });
});

test('Redis hung (SIGSTOP: connected but silent): 503 within the command timeout, then recovers', {
  timeout: 60_000,
}, async () => {
  const api = stackApi(stack);
  const proc = redis.current().process;
  proc.kill('SIGSTOP');
  let answer: Awaited<ReturnType<typeof post>>;
  try {
    answer = await post(randomDeviceTokens(3));
  } finally {
    proc.kill('SIGCONT');
  }
  assert.equal(answer.status, 503, JSON.stringify(answer.body));
  assert.equal(answer.body.code, 'PF_ERR_REDIS_UNAVAILABLE');
  // commandTimeoutMs is 1000 here: one timed-out command, maybe a second, never an unbounded wait.
  assert.ok(answer.ms < 3500, `503 after ${answer.ms} ms`);
  const recovered = await acceptedAgain();
  assert.equal((await api.waitDone(String(recovered.body.id))).delivered, 3);
  report('redis-hung', { hung503Ms: answer.ms });
});
