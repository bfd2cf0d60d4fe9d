import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  BroadcastDeliverJobData,
  DeliverJobData,
  DeviceDeliverJobData,
  PreparedBroadcast,
  PreparedNotification,
  PushTransport,
  SendResult,
} from '@pushfleet/core';
import { createDeliveryMetrics, createLogger } from '@pushfleet/telemetry';
import { FakeLedger, SimulatedCrash } from '@pushfleet/testkit';
import { Registry } from 'prom-client';
import { type DeliverDeps, processDeliverJob } from './deliver-job.ts';
import type { JobHandle } from './job-handle.ts';
import type { LiveActivityPort } from './ports.ts';

// Broadcast jobs and jobs addressed to Live Activity ids, through the real job processor with the
// in-memory ledger: what is sent, what is counted, what the registries are told.

const tok = (i: number) => i.toString(16).padStart(64, '0');

class ScriptedTransport implements PushTransport {
  readonly sent: { tokens: string[]; payload: string }[] = [];
  readonly broadcasts: { channelId: string; prepared: PreparedBroadcast }[] = [];
  constructor(
    private readonly device: (token: string) => SendResult = () => ({ kind: 'accepted', apnsId: undefined }),
    private readonly broadcast: () => SendResult = () => ({ kind: 'accepted', apnsId: undefined }),
  ) {}
  async send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    this.sent.push({ tokens: [...tokens], payload: prepared.payload });
    return tokens.map((t) => this.device(t));
  }
  async sendBroadcast(prepared: PreparedBroadcast, channelId: string): Promise<SendResult> {
    this.broadcasts.push({ channelId, prepared });
    return this.broadcast();
  }
  async close(): Promise<void> {}
}

class FakeLive implements LiveActivityPort {
  readonly tokens = new Map<string, string>();
  readonly goneActivityTokens: [string, number][] = [];
  readonly goneStartTokens: [string, string, number][] = [];
  readonly goneChannels: string[] = [];
  async currentTokens(_app: string, _env: string, ids: string[]) {
    return ids.map((id) => this.tokens.get(id) ?? null);
  }
  async activityTokenGone(_app: string, _env: string, token: string, at: number) {
    this.goneActivityTokens.push([token, at]);
    return 'ended';
  }
  async startTokenGone(_app: string, _env: string, type: string, token: string, at: number) {
    this.goneStartTokens.push([type, token, at]);
    return 'removed';
  }
  async channelGone(_app: string, _env: string, channelId: string) {
    this.goneChannels.push(channelId);
    return true;
  }
}

function handle(data: DeliverJobData): JobHandle<DeliverJobData> {
  return {
    id: `${data.notificationId}-0`,
    data,
    firstStart: true,
    enqueuedAt: 0,
    delayMs: 0,
    priority: 1,
    postpone: async () => {
      throw new Error('postponed');
    },
  };
}

function deps(
  ledger: FakeLedger,
  transport: PushTransport,
  live: FakeLive,
  registry = new Registry(),
): DeliverDeps {
  let runs = 0;
  return {
    ledger,
    transportFor: async () => transport,
    pauses: { pausedUntil: () => undefined, pause: async () => 10_000 },
    limiter: { reserve: async () => 0 },
    rateLimitFor: () => undefined,
    metrics: createDeliveryMetrics(registry),
    log: createLogger({ name: 't', level: 'silent' }),
    maxAttempts: 3,
    checkpointEvery: 100,
    backoff: { baseMs: 1000, maxMs: 60_000 },
    recheckMs: 5000,
    now: () => 1_000_000,
    newRunId: () => `run-${++runs}`,
    live,
  };
}

const prepared: PreparedBroadcast = {
  bundleId: 'com.example.match',
  headers: { 'apns-push-type': 'liveactivity', 'apns-priority': '10', 'apns-expiration': '0' },
  payload: '{"aps":{"event":"update","timestamp":1,"content-state":{"home":1}}}',
};
const broadcastJob = (attempt = 0): BroadcastDeliverJobData => ({
  app: 'sports',
  environment: 'sandbox',
  notificationId: 'b1',
  batchNo: 0,
  attempt,
  tokens: ['match-1842'],
  prepared,
  broadcast: { channelId: 'Y2hhbm5lbA==' },
});

test('a broadcast job sends once to its channel id and counts one delivered broadcast', async () => {
  const ledger = new FakeLedger();
  ledger.accept('b1', 1);
  const transport = new ScriptedTransport();
  const registry = new Registry();
  assert.equal(
    await processDeliverJob(handle(broadcastJob()), deps(ledger, transport, new FakeLive(), registry)),
    'sent',
  );
  assert.deepEqual(transport.broadcasts, [{ channelId: 'Y2hhbm5lbA==', prepared }]);
  assert.equal(transport.sent.length, 0, 'no device push');
  assert.equal(ledger.counts.get('b1')?.delivered, 1);
  const metric = await registry.getSingleMetricAsString('pushfleet_broadcasts_total');
  assert.match(metric, /pushfleet_broadcasts_total\{app="sports",result="delivered"\} 1/);
  assert.doesNotMatch(await registry.getSingleMetricAsString('pushfleet_notifications_total'), /sports/);
});

test('ChannelNotRegistered: the broadcast ends rejected, never retried, and the channel is forgotten', async () => {
  const ledger = new FakeLedger();
  ledger.accept('b1', 1);
  const live = new FakeLive();
  const transport = new ScriptedTransport(undefined, () => ({
    kind: 'rejected',
    status: 400,
    reason: 'ChannelNotRegistered',
  }));
  assert.equal(await processDeliverJob(handle(broadcastJob()), deps(ledger, transport, live)), 'sent');
  assert.deepEqual(ledger.ended, [
    { notificationId: 'b1', outcome: 'rejected', reason: 'ChannelNotRegistered', token: 'match-1842' },
  ]);
  assert.deepEqual(live.goneChannels, ['Y2hhbm5lbA==']);
  assert.equal(ledger.retryJobs.length, 0);
});

test('a throttled broadcast is retried as device pushes are: one retry job with the channel and its id', async () => {
  const ledger = new FakeLedger();
  ledger.accept('b1', 1);
  const transport = new ScriptedTransport(undefined, () => ({
    kind: 'rejected',
    status: 429,
    reason: 'TooManyRequests',
    retryAfter: 3,
  }));
  assert.equal(
    await processDeliverJob(handle(broadcastJob()), deps(ledger, transport, new FakeLive())),
    'handed-over',
  );
  const retry = ledger.retryJobs[0]!;
  assert.equal(retry.delayMs, 3000, 'Retry-After honoured');
  assert.deepEqual(retry.data.tokens, ['match-1842']);
  assert.deepEqual((retry.data as BroadcastDeliverJobData).broadcast, { channelId: 'Y2hhbm5lbA==' });
  // The last attempt ends it failed with the reason.
  const last = new FakeLedger();
  last.accept('b1', 1);
  await processDeliverJob(handle(broadcastJob(2)), deps(last, transport, new FakeLive()));
  assert.deepEqual(
    last.ended.map((e) => [e.outcome, e.reason]),
    [['failed', 'TooManyRequests']],
  );
});

const activityJob = (ids: string[], payload = '{"aps":{"event":"update"}}'): DeviceDeliverJobData => ({
  app: 'sports',
  environment: 'sandbox',
  notificationId: 'n1',
  batchNo: 0,
  attempt: 0,
  tokens: ids,
  target: 'activity',
  prepared: {
    headers: { 'apns-push-type': 'liveactivity', 'apns-topic': 'com.example.match.push-type.liveactivity' },
    payload,
  },
});

test('activity ids are resolved when sent (a rotation since accepting is followed); unknown ones end ActivityNotFound', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 3);
  const live = new FakeLive();
  live.tokens.set('m1', tok(1));
  live.tokens.set('m2', tok(2));
  // Rotated after the push was accepted: the job still names the activity, not the token.
  live.tokens.set('m1', tok(11));
  const transport = new ScriptedTransport();
  await processDeliverJob(handle(activityJob(['m1', 'm2', 'gone'])), deps(ledger, transport, live));
  assert.deepEqual(
    transport.sent.map((s) => s.tokens),
    [[tok(11), tok(2)]],
  );
  assert.deepEqual(ledger.counts.get('n1'), {
    accepted: 3,
    delivered: 2,
    rejected: 1,
    failed: 0,
    expired: 0,
    cancelled: 0,
  });
  assert.deepEqual(ledger.ended, [
    { notificationId: 'n1', outcome: 'rejected', reason: 'ActivityNotFound', token: 'gone' },
  ]);
});

test('410 for an activity token: the activity registry ends it; no device feedback event carries an activity id', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 1);
  const live = new FakeLive();
  live.tokens.set('m1', tok(1));
  const transport = new ScriptedTransport(() => ({
    kind: 'rejected',
    status: 410,
    reason: 'Unregistered',
    invalidAt: 777,
  }));
  await processDeliverJob(handle(activityJob(['m1'])), deps(ledger, transport, live));
  assert.deepEqual(live.goneActivityTokens, [[tok(1), 777]]);
  assert.deepEqual(ledger.invalidated, []);
  assert.deepEqual(
    ledger.ended.map((e) => [e.token, e.reason]),
    [['m1', 'Unregistered']],
  );
});

test('410 for a push-to-start token (a start): it leaves the push-to-start registry of its type', async () => {
  const ledger = new FakeLedger();
  ledger.accept('n1', 1);
  const live = new FakeLive();
  const transport = new ScriptedTransport(() => ({
    kind: 'rejected',
    status: 410,
    reason: 'Unregistered',
    invalidAt: 555,
  }));
  const job: DeviceDeliverJobData = {
    ...activityJob([tok(5)], '{"aps":{"event":"start","attributes-type":"MatchAttributes"}}'),
  };
  delete job.target;
  await processDeliverJob(handle(job), deps(ledger, transport, live));
  assert.deepEqual(live.goneStartTokens, [['MatchAttributes', tok(5), 555]]);
  // A device token all the same: its feedback event stays (the device registry may hold it too).
  assert.deepEqual(
    ledger.invalidated.map((i) => i.token),
    [tok(5)],
  );
});

test('a broadcast under a crash at every ledger call (before and after it applies): it is counted delivered exactly once and sent at most once more than without the crash', async () => {
  // First answer 503 (a retry job), then accepted: the path with the most ledger calls.
  const script = (nth: number): SendResult =>
    nth === 0
      ? { kind: 'rejected', status: 503, reason: 'ServiceUnavailable' }
      : { kind: 'accepted', apnsId: undefined };
  const run = async (ledger: FakeLedger) => {
    let sends = 0;
    const transport = new ScriptedTransport(undefined, () => script(sends++));
    const queue: BroadcastDeliverJobData[] = [broadcastJob()];
    let crashed = false;
    while (queue.length > 0) {
      try {
        await processDeliverJob(handle(queue[0]!), deps(ledger, transport, new FakeLive()));
        queue.shift();
        for (const retry of ledger.retryJobs.splice(0)) queue.push(retry.data as BroadcastDeliverJobData);
      } catch (err) {
        assert.ok(err instanceof SimulatedCrash, String(err));
        assert.equal(crashed, false, 'one crash per case');
        crashed = true;
        ledger.crash = undefined;
      }
    }
    return transport.broadcasts.length;
  };
  const clean = new FakeLedger();
  clean.accept('b1', 1);
  assert.equal(await run(clean), 2);
  const calls = clean.calls;
  for (let at = 1; at <= calls; at++) {
    for (const when of ['before', 'after'] as const) {
      const ledger = new FakeLedger();
      ledger.accept('b1', 1);
      ledger.crash = { at, when };
      const sent = await run(ledger);
      const where = `crash ${when} call ${at}`;
      assert.deepEqual(
        ledger.counts.get('b1'),
        { accepted: 1, delivered: 1, rejected: 0, failed: 0, expired: 0, cancelled: 0 },
        where,
      );
      assert.ok(sent >= 2 && sent <= 3, `${where}: sent ${sent} times`);
    }
  }
});
