import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  appSpace,
  DeviceRegistry,
  deviceKeys,
  FeedbackFeed,
  FeedbackProcessor,
  FeedbackPurger,
  feedbackGroup,
  feedbackKeys,
  ledgerKeys,
  ledgerRetentionSeconds,
  storeKeys,
  sweepStaleTokens,
} from '@pushfleet/store';
import { randomDeviceTokens, type StartedRedis, startRedis } from '@pushfleet/testkit';
import { Redis } from 'ioredis';
import { runFeedbackPoll } from '../../apps/scheduler/src/feedback-poll.ts';
import { runHousekeeping } from '../../apps/scheduler/src/housekeeping.ts';
import { runStaleTokenSweep } from '../../apps/scheduler/src/stale-token-sweep.ts';
import { type Harness, harness, metricValue } from './harness.ts';

let server: StartedRedis;
const open: Harness[] = [];

before(async () => {
  server = await startRedis();
});

after(async () => {
  await Promise.all(open.map((h) => h.close()));
  await server?.stop();
});

async function fresh(options: Parameters<typeof harness>[1] = {}): Promise<Harness> {
  const h = await harness(server.url, options);
  open.push(h);
  return h;
}

async function feedOf(h: Harness, app: string) {
  return new FeedbackFeed(h.redis, h.prefix).read(app, null, 10_000);
}

const hour = 3600_000;

/**
 * `count` sandbox tokens of app a, registered an hour before APNs answered Unregistered for each;
 * the failures are published. `event` rebuilds one token's failure, as a consumer would read it.
 */
async function publishUnregistered(h: Harness, count: number) {
  const tokens = randomDeviceTokens(count);
  const failedAt = Date.now();
  const event = (token: string) => ({
    app: 'a',
    environment: 'sandbox' as const,
    token,
    reason: 'Unregistered',
    timestamp: failedAt,
  });
  await new DeviceRegistry(h.redis, h.prefix).registerMany(
    'a',
    tokens.map((token) => ({ token, environment: 'sandbox' as const })),
    failedAt - hour,
  );
  await h.publish(tokens.map(event));
  return { tokens, event };
}

test('the timestamp rule: purge older registrations with their indexes, keep re-registered ones, publish', async () => {
  const h = await fresh();
  const registry = new DeviceRegistry(h.redis, h.prefix);
  const [old, renewed, unknown, badOld, badAbsent, otherEnv, malformed] = randomDeviceTokens(7) as string[];
  const failedAt = Date.now() - hour;
  await registry.register(
    'a',
    { token: old!, environment: 'sandbox', userId: 'u1', tags: ['t1', 't2'] },
    failedAt - hour,
  );
  await registry.register('a', { token: renewed!, environment: 'sandbox', userId: 'u1' }, failedAt + 1);
  await registry.register('a', { token: badOld!, environment: 'sandbox', tags: ['t1'] }, failedAt - hour);
  // Registered for production only: a sandbox BadDeviceToken says nothing about it.
  await registry.register('a', { token: otherEnv!, environment: 'production' }, failedAt - hour);

  const ev = (token: string, reason: string, extra: Record<string, string | number> = {}) => ({
    app: 'a',
    environment: 'sandbox',
    token,
    reason,
    timestamp: failedAt,
    ...extra,
  });
  await h.publish(
    [
      ev(old!, 'Unregistered'),
      ev(renewed!, 'Unregistered'),
      ev(unknown!, 'ExpiredToken'),
      ev(badOld!, 'BadDeviceToken'),
      ev(badAbsent!, 'DeviceTokenNotForTopic'),
      ev(otherEnv!, 'BadDeviceToken'),
      ev(malformed!, 'Unregistered', { environment: 'staging' }),
      ev(old!, 'Unregistered', { app: 'not-configured' }),
    ],
    'a',
  );

  const result = await runFeedbackPoll(h.ctx);
  assert.deepEqual(result, { claimed: 0, read: 8 });

  assert.equal(await registry.get('a', 'sandbox', old!), null);
  assert.equal(await registry.get('a', 'sandbox', badOld!), null);
  assert.ok(await registry.get('a', 'sandbox', renewed!), 're-registered after the failure: kept');
  assert.ok(await registry.get('a', 'production', otherEnv!), 'other environment untouched');
  const base = (k: string) => `${deviceKeys.all(h.prefix, 'a', 'sandbox').slice(0, -3)}${k}`;
  assert.deepEqual(await h.redis.smembers(deviceKeys.all(h.prefix, 'a', 'sandbox')), [renewed]);
  assert.deepEqual(await h.redis.smembers(base('user:u1')), [renewed]);
  assert.deepEqual(await h.redis.smembers(base('tag:t1')), []);
  assert.deepEqual(await h.redis.smembers(base('tag:t2')), []);

  const feed = await feedOf(h, 'a');
  assert.deepEqual(
    feed.map(({ token, reason, action, environment, timestamp }) => ({
      token,
      reason,
      action,
      environment,
      timestamp,
    })),
    [
      {
        token: old,
        reason: 'Unregistered',
        action: 'purged',
        environment: 'sandbox',
        timestamp: new Date(failedAt).toISOString(),
      },
      {
        token: unknown,
        reason: 'ExpiredToken',
        action: 'unknown',
        environment: 'sandbox',
        timestamp: new Date(failedAt).toISOString(),
      },
      {
        token: badOld,
        reason: 'BadDeviceToken',
        action: 'purged',
        environment: 'sandbox',
        timestamp: new Date(failedAt).toISOString(),
      },
    ],
  );
  assert.equal(await h.redis.exists(feedbackKeys.feed(h.prefix, 'not-configured')), 0);
  // Everything acknowledged, nothing left for the next run.
  const [pending] = (await h.redis.xpending(storeKeys.feedbackStream(h.prefix, 'a'), feedbackGroup)) as [
    number,
  ];
  assert.equal(pending, 0);
  assert.equal(await h.ctx.processor.oldestUnprocessedId('a'), null);

  const m = (reason: string, action: string) =>
    metricValue(h.registry, 'pushfleet_feedback_events_total', { app: 'a', reason, action });
  assert.equal(await m('Unregistered', 'purged'), 1);
  assert.equal(await m('Unregistered', 'kept'), 1);
  assert.equal(await m('ExpiredToken', 'unknown'), 1);
  assert.equal(await m('BadDeviceToken', 'purged'), 1);
  assert.equal(await m('BadDeviceToken', 'skipped'), 1);
  assert.equal(await m('DeviceTokenNotForTopic', 'skipped'), 1);
  assert.equal(await m('Unregistered', 'ignored'), 1);
  assert.equal(await metricValue(h.registry, 'pushfleet_feedback_events_total', { app: 'other' }), 1);
});

test('a consumer that died mid-run: its pending events are taken over and applied exactly once', async () => {
  const h = await fresh();
  const { tokens, event } = await publishUnregistered(h, 300);

  // The dead consumer read everything, applied the first 100, then crashed (no more XACKs).
  const dead = h.processor('dead');
  await dead.ensureGroup('a');
  await h.redis.xreadgroup(
    'GROUP',
    feedbackGroup,
    'dead',
    'COUNT',
    300,
    'STREAMS',
    storeKeys.feedbackStream(h.prefix, 'a'),
    '>',
  );
  const firstHundred = await h.redis.xrange(storeKeys.feedbackStream(h.prefix, 'a'), '-', '+', 'COUNT', 100);
  await new FeedbackPurger(h.redis, h.prefix, () => true).apply(
    'a',
    firstHundred.map(([id], i) => ({ id, ...event(tokens[i]!) })),
  );
  assert.ok((await h.ctx.processor.lagSeconds()) >= 0);
  assert.notEqual(await h.ctx.processor.oldestUnprocessedId('a'), null, 'lag sees the pending events');

  // A fresh run that does not wait for idleness yet finds nothing new to read...
  assert.deepEqual(await h.processor('survivor', 60_000).run({ maxEvents: 1000 }), { claimed: 0, read: 0 });
  // ...and takes the 200 over once they are idle long enough.
  const applied: string[] = [];
  const result = await h.processor('survivor', 0).run({
    maxEvents: 1000,
    onApplied: (_, action) => applied.push(action),
  });
  assert.deepEqual(result, { claimed: 200, read: 0 });
  assert.deepEqual([...new Set(applied)], ['purged']);
  const feed = await feedOf(h, 'a');
  assert.equal(feed.length, 300);
  assert.equal(new Set(feed.map((f) => f.token)).size, 300);
  assert.equal(await h.redis.scard(deviceKeys.all(h.prefix, 'a', 'sandbox')), 0);
  assert.equal(await h.ctx.processor.oldestUnprocessedId('a'), null);
});

test('an event claimed by two consumers (one stole it while the other still held it) applies once', async () => {
  const h = await fresh();
  const { tokens, event } = await publishUnregistered(h, 500);
  // Slow consumer reads everything, then stalls before applying.
  await h.processor('slow').ensureGroup('a');
  const reply = (await h.redis.xreadgroup(
    'GROUP',
    feedbackGroup,
    'slow',
    'COUNT',
    500,
    'STREAMS',
    storeKeys.feedbackStream(h.prefix, 'a'),
    '>',
  )) as [string, [string, string[]][]][];
  const held = reply[0]![1];
  // Another replica (claimIdleMs 0) takes the events over and applies them.
  const actions: string[] = [];
  await h.processor('fast', 0).run({ maxEvents: 1000, onApplied: (_, a) => actions.push(a) });
  assert.equal(actions.filter((a) => a === 'purged').length, 500);
  // The slow consumer wakes up and applies what it held: every event is a no-op.
  const late = await new FeedbackPurger(h.redis, h.prefix, () => true).apply(
    'a',
    held.map(([id], i) => ({ id, ...event(tokens[i]!) })),
  );
  assert.deepEqual([...new Set(late)], ['duplicate']);
  const feed = await feedOf(h, 'a');
  assert.equal(feed.length, 500);
  assert.equal(new Set(feed.map((f) => f.token)).size, 500);
});

test('three replicas running at once on their own connections: each token purged once', async () => {
  const h = await fresh();
  await publishUnregistered(h, 3000);
  const connections = [0, 1, 2].map(() => new Redis(server.url));
  try {
    const actions: string[] = [];
    await Promise.all(
      connections.map((redis, i) =>
        new FeedbackProcessor(redis, h.prefix, {
          consumer: `r${i}`,
          claimIdleMs: 0,
          apps: () => ['a'],
          isKnownApp: () => true,
          batchSize: 50,
        }).run({
          maxEvents: 10_000,
          onApplied: (_, a) => actions.push(a),
        }),
      ),
    );
    assert.equal(actions.filter((a) => a === 'purged').length, 3000);
    assert.ok(
      actions.every((a) => a === 'purged' || a === 'duplicate'),
      'no other outcome',
    );
  } finally {
    for (const c of connections) c.disconnect();
  }
  const feed = await feedOf(h, 'a');
  assert.equal(feed.length, 3000);
  assert.equal(new Set(feed.map((f) => f.token)).size, 3000);
});

test('stale sweep: old registrations retired through the same rule; fresh and refreshed ones kept', async () => {
  const day = 24 * hour;
  const now = Date.now();
  const h = await fresh({ config: { scheduler: { staleTokenDays: 180 } }, now: () => now });
  const registry = new DeviceRegistry(h.redis, h.prefix);
  const [stale, fresh1, refreshed, prodStale] = randomDeviceTokens(4) as string[];
  await registry.register('a', { token: stale!, environment: 'sandbox', tags: ['x'] }, now - 200 * day);
  await registry.register('a', { token: fresh1!, environment: 'sandbox' }, now - 10 * day);
  await registry.register('a', { token: refreshed!, environment: 'sandbox' }, now - 181 * day);
  await registry.register('a', { token: prodStale!, environment: 'production' }, now - 400 * day);

  assert.equal(await runStaleTokenSweep(h.ctx), 3);
  // Refreshed between the sweep and the purge: registeredAt ≥ the event's timestamp.
  await registry.register('a', { token: refreshed!, environment: 'sandbox' }, now);
  // A second sweep before the purge publishes the same tokens again: no double effect.
  assert.equal(
    await sweepStaleTokens(h.redis, h.prefix, 'a', 'sandbox', { cutoff: now - 180 * day, now }),
    1,
  );
  await runFeedbackPoll(h.ctx);

  assert.equal(await registry.get('a', 'sandbox', stale!), null);
  assert.equal(await registry.get('a', 'production', prodStale!), null);
  assert.ok(await registry.get('a', 'sandbox', fresh1!));
  assert.ok(await registry.get('a', 'sandbox', refreshed!));
  const feed = await feedOf(h, 'a');
  assert.deepEqual(
    feed.map((f) => [f.token, f.reason, f.action]).sort(),
    [
      [prodStale, 'Stale', 'purged'],
      [stale, 'Stale', 'purged'],
    ].sort(),
  );
  assert.equal(
    await metricValue(h.registry, 'pushfleet_feedback_events_total', { reason: 'Stale', action: 'skipped' }),
    1,
  );
  assert.equal(
    await metricValue(h.registry, 'pushfleet_stale_tokens_total', { app: 'a', environment: 'sandbox' }),
    2,
  );
});

test('housekeeping trims the stream and feeds by age, never past unapplied events; prunes expired campaigns from the index', async () => {
  let now = Date.now();
  const h = await fresh({ config: { scheduler: { feedbackRetentionSeconds: 60 } }, now: () => now });
  const tokens = randomDeviceTokens(6);
  await h.publish(
    tokens
      .slice(0, 3)
      .map((token) => ({ app: 'b', environment: 'sandbox', token, reason: 'Unregistered', timestamp: now })),
  );
  await runFeedbackPoll(h.ctx); // 3 applied → 3 feed entries ("unknown")
  await h.publish(
    tokens
      .slice(3)
      .map((token) => ({ app: 'b', environment: 'sandbox', token, reason: 'Unregistered', timestamp: now })),
  );
  // Two of the new three read by a consumer that then stops: pending, not applied.
  await h.redis.xreadgroup(
    'GROUP',
    feedbackGroup,
    'stopped',
    'COUNT',
    2,
    'STREAMS',
    storeKeys.feedbackStream(h.prefix, 'b'),
    '>',
  );

  // Campaign index: an expired campaign (hash gone) and one whose hash still lives (scheduled ahead).
  const space = appSpace(h.prefix, 'b');
  const index = ledgerKeys.campaigns(space);
  const ttlAgo = now - ledgerRetentionSeconds * 1000 - 60_000;
  await h.redis.zadd(index, ttlAgo, 'expired-campaign', ttlAgo, 'scheduled-campaign', now, 'new-campaign');
  await h.redis.hset(ledgerKeys.record(space, 'scheduled-campaign'), 'kind', 'campaign');

  now += 120_000; // everything is past the 60 s retention
  await runHousekeeping(h.ctx);
  assert.deepEqual(await h.redis.zrange(index, 0, -1), ['scheduled-campaign', 'new-campaign']);
  const left = await h.redis.xrange(storeKeys.feedbackStream(h.prefix, 'b'), '-', '+');
  assert.equal(left.length, 3, 'the applied events went; the pending and unread ones stayed');
  assert.deepEqual(await feedOf(h, 'b'), []);
  assert.equal(
    await metricValue(h.registry, 'pushfleet_housekeeping_removed_total', { kind: 'feedback-stream' }),
    3,
  );

  const result = await h.processor('late', 0).run({ maxEvents: 100 });
  assert.deepEqual(result, { claimed: 2, read: 1 });
  assert.equal((await feedOf(h, 'b')).length, 3);
});
