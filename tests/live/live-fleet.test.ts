import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ChannelClient } from '@pushfleet/apns';
import { type NotificationStatus, PushfleetClient } from '@pushfleet/client';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';

// A match, end to end through real processes (api, worker) and the simulator: a channel made at
// APNs through the api, a push-to-start with inputPushChannel to a user, score updates broadcast
// (bodies byte-checked at the simulator), an end with a dismissal date; an activity addressed by
// id after its token rotated; a 410 that ends an activity's record; a channel deleted behind
// Pushfleet's back forgotten after ChannelNotRegistered; outcome counts reconciled with the
// simulator and pushfleet_broadcasts_total.

let redis: StartedRedis;
let stack: Stack;
let client: PushfleetClient;
let app: string;
let topic: string;

before(async () => {
  redis = await startRedis();
  stack = await startStack({ redisUrl: redis.url, prefix: `test-${randomUUID()}`, apps: ['api', 'worker'] });
  client = new PushfleetClient({ baseUrl: stack.apiUrl, retryBaseMs: 10 });
  app = stack.appId;
  topic = `${stack.bundleId}.push-type.liveactivity`;
});

after(async () => {
  await stack?.stop();
  await redis?.stop();
});

async function done(id: string): Promise<NotificationStatus> {
  let last: NotificationStatus | undefined;
  await waitFor(
    `notification ${id} done`,
    async () => {
      last = await client.getNotification(app, id);
      return last.state === 'done';
    },
    { timeoutMs: 20_000 },
  );
  return last!;
}

const at = 1_777_662_000;

test('a match: channel, push-to-start with inputPushChannel, broadcast scores, end with dismissal, delete', async () => {
  const channel = await client.channels.create(app, {
    name: 'match-1842',
    metadata: { home: 'Lyon', away: 'Nantes' },
  });
  const atApns = (await stack.sim.control.channels(stack.bundleId)).find(
    (c) => c.channelId === channel.channelId,
  );
  assert.equal(atApns?.messageStoragePolicy, 1);

  // The fan's phone registered its push-to-start token for the match's activity type.
  const [startToken] = randomDeviceTokens(1);
  await client.live.registerPushToStart(app, startToken!, {
    attributesType: 'MatchAttributes',
    userId: 'fan-7',
  });
  const started = await client.live.send(app, {
    userIds: ['fan-7'],
    notification: {
      event: 'start',
      timestamp: at,
      attributesType: 'MatchAttributes',
      attributes: { home: 'Lyon', away: 'Nantes' },
      contentState: { home: 0, away: 0, minute: 0 },
      alert: { title: 'Kick-off', body: 'Lyon – Nantes' },
      inputPushChannel: channel.channelId,
    },
  });
  assert.equal(started.accepted, 1);
  assert.equal((await done(started.id)).delivered, 1);
  const [startWire] = await stack.sim.control.deliveries(startToken!);
  assert.equal(startWire?.headers['apns-topic'], topic);
  assert.equal(startWire?.headers['apns-push-type'], 'liveactivity');
  assert.equal(
    startWire?.body,
    `{"aps":{"event":"start","timestamp":${at},"attributes-type":"MatchAttributes","attributes":{"home":"Lyon","away":"Nantes"},` +
      `"content-state":{"home":0,"away":0,"minute":0},"alert":{"title":"Kick-off","body":"Lyon – Nantes"},` +
      `"input-push-channel":"${channel.channelId}"}}`,
  );

  // Score updates: one request each, whatever the number of subscribed activities.
  const scores = [
    { home: 1, away: 0, minute: 12 },
    { home: 1, away: 1, minute: 40 },
    { home: 2, away: 1, minute: 67 },
  ];
  const ids: string[] = [];
  for (const [i, score] of scores.entries()) {
    ids.push(
      (
        await client.channels.broadcast(app, channel.name, {
          event: 'update',
          timestamp: at + 60 * (i + 1),
          contentState: score,
        })
      ).id,
    );
  }
  const ended = await client.channels.broadcast(app, channel.name, {
    event: 'end',
    timestamp: at + 6000,
    contentState: { home: 2, away: 1, minute: 90 },
    dismissalDate: at + 7800,
  });
  ids.push(ended.id);
  for (const id of ids) {
    const status = await client.channels.waitForBroadcast(app, id, { intervalMs: 50, timeoutMs: 20_000 });
    assert.deepEqual(
      [status.state, status.outcome, status.reason, status.channel],
      ['done', 'delivered', null, channel.name],
    );
  }
  const wire = await stack.sim.control.broadcasts(channel.channelId);
  assert.deepEqual(
    wire.map((b) => b.body),
    [
      ...scores.map(
        (s, i) =>
          `{"aps":{"event":"update","timestamp":${at + 60 * (i + 1)},"content-state":{"home":${s.home},"away":${s.away},"minute":${s.minute}}}}`,
      ),
      `{"aps":{"event":"end","timestamp":${at + 6000},"content-state":{"home":2,"away":1,"minute":90},"dismissal-date":${at + 7800}}}`,
    ],
  );
  for (const b of wire) {
    assert.equal(b.headers['apns-channel-id'], channel.channelId);
    assert.equal(b.headers['apns-push-type'], 'liveactivity');
    assert.equal(b.headers['apns-priority'], '10');
    // A stored-message channel: kept 8 hours by default.
    assert.ok(
      Number(b.headers['apns-expiration']) > Date.now() / 1000 + 7 * 3600,
      b.headers['apns-expiration'],
    );
  }

  await client.channels.delete(app, channel.name);
  const deleted = (await stack.sim.control.channels(stack.bundleId)).find(
    (c) => c.channelId === channel.channelId,
  );
  assert.ok(deleted?.deletedAt, 'deleted at APNs');
  assert.deepEqual(await client.channels.list(app), []);
});

test('an activity addressed by id follows its token rotation; a 410 ends its record', async () => {
  const [first, second, other] = randomDeviceTokens(3);
  await client.live.registerActivity(app, 'order-42', {
    token: first!,
    userId: 'u-9',
    attributesType: 'DeliveryAttributes',
  });
  await client.live.registerActivity(app, 'order-42', { token: second! });
  const update = await client.live.send(app, {
    activityIds: ['order-42', 'order-unknown'],
    notification: { event: 'update', timestamp: at, contentState: { stop: 3 }, staleDate: at + 900 },
  });
  const status = await done(update.id);
  assert.deepEqual([status.delivered, status.rejected, status.reasons], [1, 1, { ActivityNotFound: 1 }]);
  assert.equal((await stack.sim.control.deliveries(first!)).length, 0, 'the rotated-away token gets nothing');
  const [wire] = await stack.sim.control.deliveries(second!);
  assert.equal(
    wire?.body,
    `{"aps":{"event":"update","timestamp":${at},"content-state":{"stop":3},"stale-date":${at + 900}}}`,
  );

  // The activity ended on the device: APNs answers 410 for its token.
  await client.live.registerActivity(app, 'order-43', { token: other!, userId: 'u-9' });
  await stack.sim.control.unregister({ token: other!, topic, timestamp: Date.now() });
  const end = await client.live.send(app, {
    userIds: ['u-9'],
    notification: { event: 'end', timestamp: at + 100, contentState: { stop: 0 }, dismissalDate: 0 },
  });
  assert.equal(end.accepted, 2, 'both of the user’s activities');
  const ended = await done(end.id);
  assert.deepEqual([ended.delivered, ended.rejected, ended.reasons], [1, 1, { Unregistered: 1 }]);
  await waitFor('order-43 record ended', async () =>
    client.live.getActivity(app, 'order-43').then(
      () => false,
      (err: { status?: number }) => err.status === 404,
    ),
  );
  assert.equal((await client.live.getActivity(app, 'order-42')).token, second);
  const [, endWire] = await stack.sim.control.deliveries(second!);
  assert.equal(
    endWire?.body,
    `{"aps":{"event":"end","timestamp":${at + 100},"content-state":{"stop":0},"dismissal-date":0}}`,
  );
});

test('a channel deleted at APNs behind Pushfleet’s back: the broadcast ends ChannelNotRegistered, the channel is forgotten; counts reconcile', async () => {
  const channel = await client.channels.create(app, { name: 'cup-final', messageStoragePolicy: 0 });
  const ok = await client.channels.broadcast(app, channel.name, {
    event: 'update',
    contentState: { home: 0 },
  });
  assert.equal((await client.channels.waitForBroadcast(app, ok.id, { intervalMs: 50 })).outcome, 'delivered');
  const direct = new ChannelClient({
    environment: stack.sim.environment,
    credentials: {
      type: 'token',
      keyPem: stack.key.privateKeyPem,
      keyId: stack.key.keyId,
      teamId: stack.key.teamId,
    },
    endpoint: {
      host: '127.0.0.1',
      port: stack.sim.channelPort,
      caPem: readFileSync(stack.sim.caFile, 'utf8'),
    },
    requestTimeoutMs: 3000,
  });
  assert.equal((await direct.delete(stack.bundleId, channel.channelId)).kind, 'ok');
  await direct.close();
  const lost = await client.channels.broadcast(app, channel.name, {
    event: 'update',
    contentState: { home: 1 },
  });
  const status = await client.channels.waitForBroadcast(app, lost.id, { intervalMs: 50 });
  assert.deepEqual([status.outcome, status.reason], ['rejected', 'ChannelNotRegistered']);
  await waitFor('channel forgotten', async () => (await client.channels.list(app)).length === 0);

  // Outcomes reconcile: the simulator accepted exactly the broadcasts the ledger counts delivered
  // (4 in the match, 1 here), and the worker's counter says the same.
  const stats = await stack.sim.control.stats();
  assert.equal(stats.broadcasts.accepted, 5);
  assert.equal(stats.broadcasts.rejected.ChannelNotRegistered, 1);
  const metrics = await (await fetch(`http://127.0.0.1:${stack.opsPorts.worker}/metrics`)).text();
  const count = (result: string) =>
    Number(
      metrics.match(
        new RegExp(`pushfleet_broadcasts_total\\{app="${app}",result="${result}"\\} (\\d+)`),
      )?.[1] ?? 0,
    );
  assert.deepEqual([count('delivered'), count('rejected')], [5, 1]);
});
