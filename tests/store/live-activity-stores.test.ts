import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { ChannelRecord } from '@pushfleet/core';
import {
  ActivityTokenStore,
  activityTokenKeys,
  appSpace,
  ChannelStore,
  channelKeys,
  PushToStartStore,
  pushToStartKeys,
} from '@pushfleet/store';
import { randomDeviceTokens, useRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';

// The Live Activity registries and the channel store against a real Redis: push-to-start tokens,
// activity update tokens (rotation, 410), channels by name and by APNs id.

let redis: Redis;
useRedis((started) => {
  redis = started.redis;
});

const freshPrefix = () => `la-${randomUUID().slice(0, 8)}`;
const app = 'scores';

/** Every key under the prefix, for checking nothing is left behind. */
async function keysOf(prefix: string): Promise<string[]> {
  return (await redis.keys(`${prefix}*`)).sort();
}

test('every key lives in the app’s space (one Redis Cluster slot per app)', () => {
  const prefix = 'pf';
  const space = appSpace(prefix, app);
  for (const key of [
    pushToStartKeys.tokens(prefix, app, 'sandbox', 'MatchAttributes'),
    pushToStartKeys.user(prefix, app, 'sandbox', 'MatchAttributes', 'u1'),
    activityTokenKeys.activity(prefix, app, 'production', 'a1'),
    activityTokenKeys.token(prefix, app, 'production', 'ab'),
    activityTokenKeys.user(prefix, app, 'production', 'u1'),
    channelKeys.names(prefix, app),
    channelKeys.ids(prefix, app, 'sandbox'),
  ]) {
    assert.ok(key.startsWith(`${space}:`), key);
  }
});

test('push-to-start: per environment and attributes type; a user index that follows the token', async () => {
  const prefix = freshPrefix();
  const store = new PushToStartStore(redis, prefix);
  const [t1, t2, t3] = randomDeviceTokens(3) as [string, string, string];
  await store.register(
    app,
    { environment: 'production', attributesType: 'Match', token: t1, userId: 'ann' },
    1000,
  );
  await store.register(
    app,
    { environment: 'production', attributesType: 'Match', token: t2, userId: 'ann' },
    1001,
  );
  await store.register(app, { environment: 'production', attributesType: 'Match', token: t3 }, 1002);
  await store.register(
    app,
    { environment: 'production', attributesType: 'Delivery', token: t1, userId: 'ann' },
    1003,
  );
  await store.register(
    app,
    { environment: 'sandbox', attributesType: 'Match', token: t1, userId: 'bob' },
    1004,
  );

  assert.deepEqual(
    (await store.forUser(app, 'production', 'Match', 'ann')).map((r) => r.token),
    [t1, t2].sort(),
  );
  assert.equal(await store.count(app, 'production', 'Match'), 3);
  assert.equal(await store.count(app, 'production', 'Delivery'), 1);
  assert.deepEqual(await store.get(app, 'production', 'Match', t3), {
    app,
    environment: 'production',
    attributesType: 'Match',
    token: t3,
    userId: null,
    registeredAt: 1002,
  });
  assert.equal((await store.get(app, 'sandbox', 'Match', t1))?.userId, 'bob', 'environments are apart');

  // The token moves to another user: the old user's index lets go of it.
  await store.register(
    app,
    { environment: 'production', attributesType: 'Match', token: t2, userId: 'cat' },
    2000,
  );
  assert.deepEqual(
    (await store.forUser(app, 'production', 'Match', 'ann')).map((r) => r.token),
    [t1],
  );
  assert.deepEqual(
    (await store.forUser(app, 'production', 'Match', 'cat')).map((r) => [r.token, r.registeredAt]),
    [[t2, 2000]],
  );

  // Paging through a type sees every token exactly once.
  const seen: string[] = [];
  let cursor = '0';
  do {
    const page = await store.page(app, 'production', 'Match', cursor, 1);
    seen.push(...page.records.map((r) => r.token));
    cursor = page.cursor;
  } while (cursor !== '0');
  assert.deepEqual(seen.sort(), [t1, t2, t3].sort());

  // A 410 before the last registration keeps the token; one after removes it and its index entry.
  assert.equal(await store.invalidate(app, 'production', 'Match', t2, 1500), 'kept');
  assert.equal(await store.invalidate(app, 'production', 'Match', t2, 2500), 'removed');
  assert.equal(await store.invalidate(app, 'production', 'Match', t2, 2500), 'not-found');
  assert.deepEqual(await store.forUser(app, 'production', 'Match', 'cat'), []);
  assert.equal(await store.unregister(app, 'production', 'Match', t1), true);
  assert.equal(await store.unregister(app, 'production', 'Match', t1), false);
  assert.equal(await store.unregister(app, 'production', 'Match', t3), true);
  assert.equal(await store.unregister(app, 'production', 'Delivery', t1), true);
  assert.equal(await store.unregister(app, 'sandbox', 'Match', t1), true);
  assert.deepEqual(await keysOf(prefix), [], 'nothing left behind');
});

test('concurrent registrations of one token end with one record and one index entry', async () => {
  const prefix = freshPrefix();
  const store = new PushToStartStore(redis, prefix);
  const [token] = randomDeviceTokens(1) as [string];
  const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  await Promise.all(
    users.map((userId, i) =>
      store.register(app, { environment: 'sandbox', attributesType: 'Match', token, userId }, 1000 + i),
    ),
  );
  const owner = (await store.get(app, 'sandbox', 'Match', token))?.userId;
  const indexed = [];
  for (const u of users) {
    if ((await store.forUser(app, 'sandbox', 'Match', u)).length > 0) indexed.push(u);
  }
  assert.deepEqual(indexed, [owner], 'only the owner’s index holds the token');
});

test('activity tokens: lookup by activity and user, rotation replaces the token, a 410 ends the record', async () => {
  const prefix = freshPrefix();
  const store = new ActivityTokenStore(redis, prefix);
  const [first, rotated, other] = randomDeviceTokens(3) as [string, string, string];
  const registered = await store.register(
    app,
    {
      environment: 'production',
      activityId: 'match-42',
      token: first,
      userId: 'ann',
      attributesType: 'Match',
    },
    1000,
  );
  assert.deepEqual(registered, {
    app,
    environment: 'production',
    activityId: 'match-42',
    token: first,
    userId: 'ann',
    attributesType: 'Match',
    registeredAt: 1000,
    updatedAt: 1000,
  });
  await store.register(
    app,
    { environment: 'production', activityId: 'match-43', token: other, userId: 'ann' },
    1100,
  );

  // The system rotates the activity's token: the app reports the new one.
  const after = await store.register(
    app,
    { environment: 'production', activityId: 'match-42', token: rotated },
    2000,
  );
  assert.deepEqual(
    [after.token, after.userId, after.attributesType, after.registeredAt, after.updatedAt],
    [rotated, 'ann', 'Match', 1000, 2000],
    'user and type kept, first registration kept',
  );
  assert.deepEqual(await store.currentTokens(app, 'production', ['match-42', 'nope', 'match-43']), [
    rotated,
    null,
    other,
  ]);
  assert.equal(await store.activityOf(app, 'production', first), null, 'the old token no longer points here');
  assert.equal(await store.activityOf(app, 'production', rotated), 'match-42');
  assert.deepEqual(
    (await store.forUser(app, 'production', 'ann')).map((r) => [r.activityId, r.token]),
    [
      ['match-42', rotated],
      ['match-43', other],
    ],
  );

  // A 410 for the token that was rotated away changes nothing; one for the current token, from
  // before the last registration, keeps it; a later one ends the record.
  assert.deepEqual(await store.tokenGone(app, 'production', first, 3000), { kind: 'not-found' });
  assert.equal((await store.tokenGone(app, 'production', rotated, 1500)).kind, 'kept');
  const gone = await store.tokenGone(app, 'production', rotated, 3000);
  assert.equal(gone.kind, 'ended');
  assert.equal(gone.kind === 'ended' && gone.activity.activityId, 'match-42');
  assert.equal(await store.get(app, 'production', 'match-42'), null);
  assert.equal(await store.activityOf(app, 'production', rotated), null);
  assert.deepEqual(
    (await store.forUser(app, 'production', 'ann')).map((r) => r.activityId),
    ['match-43'],
  );

  // Moving an activity to another user moves its index entry; ending it leaves nothing behind.
  await store.register(
    app,
    { environment: 'production', activityId: 'match-43', token: other, userId: 'bob' },
    4000,
  );
  assert.deepEqual(await store.forUser(app, 'production', 'ann'), []);
  assert.equal(await store.end(app, 'production', 'match-43'), true);
  assert.equal(await store.end(app, 'production', 'match-43'), false);
  assert.deepEqual(await keysOf(prefix), [], 'nothing left behind');
});

test('activity records expire after the TTL; a stale index entry is dropped on read', async () => {
  const prefix = freshPrefix();
  const store = new ActivityTokenStore(redis, prefix, { ttlSeconds: 60 });
  const [token] = randomDeviceTokens(1) as [string];
  await store.register(app, { environment: 'sandbox', activityId: 'a1', token, userId: 'ann' }, Date.now());
  const ttl = await redis.ttl(activityTokenKeys.activity(prefix, app, 'sandbox', 'a1'));
  assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
  assert.ok((await redis.ttl(activityTokenKeys.token(prefix, app, 'sandbox', token))) > 0);
  // As if the record had expired: the user's index still names it until it is read.
  await redis.del(activityTokenKeys.activity(prefix, app, 'sandbox', 'a1'));
  assert.deepEqual(await store.forUser(app, 'sandbox', 'ann'), []);
  assert.equal(await redis.scard(activityTokenKeys.user(prefix, app, 'sandbox', 'ann')), 0);
  assert.deepEqual(await store.tokenGone(app, 'sandbox', token, Date.now()), { kind: 'not-found' });
  assert.equal(
    await redis.exists(activityTokenKeys.token(prefix, app, 'sandbox', token)),
    0,
    'pointer dropped',
  );
});

test('channels: by name and by APNs id, listed oldest first, a taken name refused, removal', async () => {
  const prefix = freshPrefix();
  const store = new ChannelStore(redis, prefix);
  const channel = (
    name: string,
    channelId: string,
    environment: 'sandbox' | 'production',
    createdAt: number,
  ) =>
    ({
      name,
      channelId,
      environment,
      storagePolicy: 1,
      metadata: { home: 'Reds', away: 'Blues' },
      createdAt,
    }) satisfies ChannelRecord;
  const a = channel('match-42', 'dHN0LWNoYW5uZWwtMQ==', 'production', 2000);
  const b = channel('match-43', 'dHN0LWNoYW5uZWwtMg==', 'production', 1000);
  const c = { ...channel('test-match', 'dHN0LWNoYW5uZWwtMQ==', 'sandbox', 3000), storagePolicy: 0 as const };
  assert.deepEqual(await store.add(app, a), { kind: 'added', record: a });
  assert.deepEqual(await store.add(app, b), { kind: 'added', record: b });
  assert.deepEqual(
    await store.add(app, c),
    { kind: 'added', record: c },
    'the same id in another environment',
  );
  const taken = await store.add(app, { ...a, channelId: 'b3RoZXI=' });
  assert.deepEqual(taken, { kind: 'exists', record: a });
  assert.equal(await store.byChannelId(app, 'production', 'b3RoZXI='), null, 'the refused one left no trace');

  assert.deepEqual(await store.get(app, 'match-42'), a);
  assert.deepEqual(await store.byChannelId(app, 'production', a.channelId), a);
  assert.deepEqual(await store.byChannelId(app, 'sandbox', a.channelId), c);
  assert.deepEqual(
    (await store.list(app)).map((r) => r.name),
    ['match-43', 'match-42', 'test-match'],
  );
  assert.deepEqual(
    (await store.list(app, 'sandbox')).map((r) => r.name),
    ['test-match'],
  );

  assert.deepEqual(await store.removeByChannelId(app, 'production', a.channelId), a);
  assert.equal(await store.get(app, 'match-42'), null);
  assert.deepEqual(await store.byChannelId(app, 'sandbox', c.channelId), c, 'the sandbox one stays');
  assert.equal(await store.removeByChannelId(app, 'production', a.channelId), null);
  assert.deepEqual(await store.remove(app, 'match-43'), b);
  assert.deepEqual(await store.remove(app, 'test-match'), c);
  assert.equal(await store.remove(app, 'test-match'), null);
  assert.deepEqual(await keysOf(prefix), [], 'nothing left behind');
});
