import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliverJobData, DeviceDeliverJobData, RetryJob, SendResult } from '@pushfleet/core';
import { createDeliveryMetrics, createLogger } from '@pushfleet/telemetry';
import { FakeLedger, FakeTransport, SimulatedCrash } from '@pushfleet/testkit';
import { Registry } from 'prom-client';
import { type DeliverDeps, processDeliverJob } from './deliver-job.ts';
import type { JobHandle } from './job-handle.ts';

const token = (i: number) => i.toString(16).padStart(64, '0');
const tokens = (n: number, from = 0) => Array.from({ length: n }, (_, i) => token(from + i));

class Postponed extends Error {
  constructor(readonly until: number) {
    super('postponed');
  }
}

function job(data: Partial<DeviceDeliverJobData> & { tokens: string[] }): JobHandle<DeliverJobData> {
  return {
    id: `${data.notificationId ?? 'n1'}-0`,
    data: {
      app: 'shop',
      environment: 'production',
      notificationId: 'n1',
      batchNo: 0,
      attempt: 0,
      prepared: { headers: { 'apns-push-type': 'alert', 'apns-topic': 'com.shop' }, payload: '{}' },
      ...data,
    },
    firstStart: true,
    enqueuedAt: 0,
    delayMs: 0,
    priority: 1,
    postpone: async (until) => {
      throw new Postponed(until);
    },
  };
}

function deps(ledger: FakeLedger, transport: FakeTransport, extra: Partial<DeliverDeps> = {}): DeliverDeps {
  let runs = 0;
  return {
    ledger,
    transportFor: async () => transport,
    pauses: { pausedUntil: () => undefined, pause: async () => 10_000 },
    limiter: { reserve: async () => 0 },
    rateLimitFor: () => undefined,
    metrics: createDeliveryMetrics(new Registry()),
    log: createLogger({ name: 't', level: 'silent' }),
    maxAttempts: 3,
    checkpointEvery: 100,
    backoff: { baseMs: 1000, maxMs: 60_000 },
    recheckMs: 5000,
    now: () => 1_000,
    newRunId: () => `run-${++runs}`,
    ...extra,
  };
}

const accepted: SendResult = { kind: 'accepted', apnsId: undefined };

test('sends every token in checkpointed slices and counts each once', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 250);
  const transport = new FakeTransport();
  assert.equal(await processDeliverJob(job({ tokens: tokens(250) }), deps(ledger, transport)), 'sent');
  assert.equal(transport.sendCalls, 3, 'slices of 100');
  assert.equal(ledger.counts.get('n1')!.delivered, 250);
  assert.equal(ledger.batches.get('n1/0.0'), 'done');
  // Run again (a stalled job): nothing more is sent or counted.
  assert.equal(
    await processDeliverJob(job({ tokens: tokens(250) }), deps(ledger, transport)),
    'already-done',
  );
  assert.equal(transport.sendCalls, 3);
});

test('rejections end the token, dead tokens are reported; retryable ones go to one retry job', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 10);
  const transport = new FakeTransport((t) => {
    if (t === token(1)) return { kind: 'rejected', status: 410, reason: 'Unregistered', invalidAt: 5 };
    if (t === token(2)) return { kind: 'rejected', status: 400, reason: 'BadTopic' };
    if (t === token(3)) return { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 30 };
    if (t === token(4)) return { kind: 'failed', error: 'reset' };
    return accepted;
  });
  assert.equal(await processDeliverJob(job({ tokens: tokens(10) }), deps(ledger, transport)), 'handed-over');
  assert.deepEqual(ledger.counts.get('n1'), {
    accepted: 10,
    delivered: 6,
    rejected: 2,
    failed: 0,
    expired: 0,
    cancelled: 0,
  });
  assert.deepEqual(ledger.invalidated, [{ notificationId: 'n1', token: token(1), reason: 'Unregistered' }]);
  assert.equal(ledger.retryJobs.length, 1);
  const retry = ledger.retryJobs[0] as RetryJob;
  assert.deepEqual(retry.data.tokens, [token(3), token(4)]);
  assert.equal(retry.data.attempt, 1);
  assert.ok(retry.delayMs >= 30_000, 'never sooner than Retry-After');
  assert.equal(retry.priority, 1);
});

test('the last attempt ends retryable tokens failed with the last reason, in the same step', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 5);
  const transport = new FakeTransport(() => ({
    kind: 'rejected',
    status: 503,
    reason: 'ServiceUnavailable',
  }));
  assert.equal(
    await processDeliverJob(job({ tokens: tokens(5), attempt: 2 }), deps(ledger, transport)),
    'sent',
  );
  assert.equal(ledger.counts.get('n1')!.failed, 5);
  assert.deepEqual(ledger.reasons.get('n1'), { ServiceUnavailable: 5 });
  assert.equal(ledger.retryJobs.length, 0);
  assert.equal(ledger.batches.get('n1/0.2'), 'done');
});

test('resumes after the saved checkpoint: only the unsent rest is sent', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 300);
  ledger.batches.set('n1/0.0', JSON.stringify({ next: 200, retry: [], retryReason: '', run: 'old' }));
  const transport = new FakeTransport();
  await processDeliverJob(job({ tokens: tokens(300) }), deps(ledger, transport));
  assert.deepEqual([...transport.sends.keys()], tokens(100, 200));
  assert.equal(ledger.counts.get('n1')!.delivered, 100);
});

test('cancelled or expired: nothing sent, every unsettled token counted once', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 300);
  ledger.cancel('n1');
  const transport = new FakeTransport();
  assert.equal(await processDeliverJob(job({ tokens: tokens(300) }), deps(ledger, transport)), 'cancelled');
  assert.equal(transport.sendCalls, 0);
  assert.equal(ledger.counts.get('n1')!.cancelled, 300);

  ledger.accept('n2', 10);
  const expired = job({
    notificationId: 'n2',
    tokens: tokens(10),
    prepared: {
      headers: { 'apns-push-type': 'alert', 'apns-topic': 't', 'apns-expiration': '1' },
      payload: '{}',
    },
  });
  assert.equal(await processDeliverJob(expired, deps(ledger, transport, { now: () => 10_000 })), 'expired');
  assert.equal(ledger.counts.get('n2')!.expired, 10);
  assert.ok(ledger.ended.filter((e) => e.notificationId === 'n2').every((e) => e.reason === 'Expired'));
});

test('a cancel seen between slices ends the rest cancelled', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 300);
  const transport = new FakeTransport((t) => {
    if (t === token(50)) ledger.cancel('n1');
    return accepted;
  });
  assert.equal(await processDeliverJob(job({ tokens: tokens(300) }), deps(ledger, transport)), 'cancelled');
  assert.deepEqual([ledger.counts.get('n1')!.delivered, ledger.counts.get('n1')!.cancelled], [100, 200]);
});

test('a paused app × environment postpones the job until the pause ends', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 3);
  const d = deps(ledger, new FakeTransport(), {
    pauses: { pausedUntil: (_app, env) => (env === 'production' ? 42_000 : undefined), pause: async () => 0 },
  });
  await assert.rejects(
    processDeliverJob(job({ tokens: tokens(3) }), d),
    (e) => e instanceof Postponed && e.until === 42_000,
  );
  await processDeliverJob(job({ notificationId: 'n1', tokens: tokens(3), environment: 'sandbox' }), d);
  assert.equal(ledger.counts.get('n1')!.delivered, 3, 'the other environment is not paused');
});

test('refused credentials pause the app × environment and park the rest of the batch', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 250);
  const paused: string[] = [];
  const transport = new FakeTransport((t) =>
    t === token(0) ? { kind: 'rejected', status: 403, reason: 'InvalidProviderToken' } : accepted,
  );
  const d = deps(ledger, transport, {
    pauses: {
      pausedUntil: () => undefined,
      pause: async (app, env, reason) => {
        paused.push(`${app}/${env}/${reason}`);
        return 99_000;
      },
    },
  });
  await assert.rejects(
    processDeliverJob(job({ tokens: tokens(250) }), d),
    (e) => e instanceof Postponed && e.until === 99_000,
  );
  assert.deepEqual(paused, ['shop/production/InvalidProviderToken']);
  const saved = JSON.parse(ledger.batches.get('n1/0.0')!) as { next: number; retry: string[] };
  assert.deepEqual([saved.next, saved.retry], [100, [token(0)]], 'the refused token waits in the checkpoint');
});

test('two runs of one batch: the one another run took the batch from steps back', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 300);
  const transport = new FakeTransport((t) => {
    // While this run sends its first slice, the job is resumed elsewhere: a new run claims it.
    if (t === token(0))
      void ledger.begin(
        { app: 'shop', environment: 'production', notificationId: 'n1', batchNo: 0, attempt: 0 },
        'other',
      );
    return accepted;
  });
  await assert.rejects(processDeliverJob(job({ tokens: tokens(300) }), deps(ledger, transport)), Postponed);
  assert.equal(transport.sendCalls, 1, 'no further slice sent');
  assert.equal(ledger.counts.get('n1')!.delivered, 0, 'its slice was not counted twice');
});

test('a job whose record does not exist sends nothing', async () => {
  const transport = new FakeTransport();
  assert.equal(
    await processDeliverJob(job({ tokens: tokens(5) }), deps(new FakeLedger(), transport)),
    'no-record',
  );
  assert.equal(transport.sendCalls, 0);
});

/**
 * The ledger's promise under crashes: stop the processor at every ledger call in turn (before and
 * after it applies), resume with a fresh run (and run retry jobs), then check the invariants.
 */
test('crash at every ledger call, before and after it applies: every token ends exactly once, duplicates ≤ one slice', async () => {
  const n = 320;
  const script = (t: string, nth: number): SendResult => {
    const i = Number.parseInt(t, 16);
    if (i % 40 === 0) return { kind: 'rejected', status: 400, reason: 'BadDeviceToken' };
    if (i % 9 === 0 && nth === 0) return { kind: 'rejected', status: 503, reason: 'ServiceUnavailable' };
    return accepted;
  };
  const run = async (ledger: FakeLedger, transport: FakeTransport) => {
    const queue = [job({ tokens: tokens(n) })];
    let resumedAfterCrash = false;
    while (queue.length > 0) {
      const next = queue[0]!;
      try {
        await processDeliverJob(next, deps(ledger, transport));
        queue.shift();
        for (const retry of ledger.retryJobs.splice(0))
          queue.push(job({ ...(retry.data as DeviceDeliverJobData), tokens: retry.data.tokens }));
      } catch (err) {
        // The crashed "process" is gone; a fresh one runs the same job again.
        assert.ok(err instanceof SimulatedCrash, String(err));
        assert.equal(resumedAfterCrash, false, 'one crash per case');
        resumedAfterCrash = true;
        ledger.crash = undefined;
      }
    }
  };
  const clean = new FakeLedger();
  clean.accept('n1', n);
  await run(clean, new FakeTransport(script));
  const totalCalls = clean.calls;
  assert.ok(totalCalls >= 6);
  let cases = 0;
  for (let at = 1; at <= totalCalls; at++) {
    for (const when of ['before', 'after'] as const) {
      const ledger = new FakeLedger();
      ledger.accept('n1', n);
      ledger.crash = { at, when };
      const transport = new FakeTransport(script);
      await run(ledger, transport);
      const where = `crash ${when} call ${at}`;
      assert.equal(ledger.settled('n1'), n, `${where}: every accepted token has an outcome`);
      const perToken = new Map<string, number>();
      for (const e of ledger.ended) perToken.set(e.token, (perToken.get(e.token) ?? 0) + 1);
      assert.ok(
        [...perToken.values()].every((c) => c === 1),
        `${where}: no token ends twice`,
      );
      assert.equal(ledger.counts.get('n1')!.rejected, n / 40, `${where}: rejections counted once`);
      assert.equal(ledger.counts.get('n1')!.delivered, n - n / 40, `${where}: the rest delivered`);
      assert.ok(
        tokens(n).every((t) => (transport.sends.get(t) ?? 0) >= 1),
        `${where}: every token sent`,
      );
      const retried = tokens(n).filter(
        (t) => Number.parseInt(t, 16) % 9 === 0 && Number.parseInt(t, 16) % 40 !== 0,
      );
      const extra = transport.duplicates() - retried.length;
      assert.ok(extra <= 100, `${where}: ${extra} duplicate sends, bound is one slice (100)`);
      cases++;
    }
  }
  assert.equal(cases, totalCalls * 2);
});
