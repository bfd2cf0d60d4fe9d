// The SDK's Live Activity and channel methods (client.live, client.channels) against the real api
// over HTTP, with the worker's real job processor and a scripted APNs behind it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRedis } from '@pushfleet/queue';
import { FakeTransport, type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { fakeChannelClients } from '../../../apps/api/tests/fake-channels.ts';
import { startTestApi, type TestApi, token } from '../../../apps/api/tests/helpers.ts';
import { type InProcessWorker, startInProcessWorker } from '../../../apps/worker/tests/in-process-worker.ts';
import { type PushfleetApiError, PushfleetClient } from '../src/index.ts';

let server: StartedRedis;
let t: TestApi;
let client: PushfleetClient;
let workerRedis: Redis;
let worker: InProcessWorker;
const transport = new FakeTransport();

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server, channelClients: fakeChannelClients() });
  const address = await t.api.listen({ host: '127.0.0.1', port: 0 });
  client = new PushfleetClient({ baseUrl: address, retryBaseMs: 1 });
  workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
  worker = await startInProcessWorker({ redis: workerRedis, prefix: t.prefix, apps: ['demo'], transport });
});

after(async () => {
  await worker?.close();
  workerRedis?.disconnect();
  await t?.close();
  await server?.stop();
});

const code = (expected: string, field?: string) => (err: PushfleetApiError) => {
  assert.equal(err.code, expected, err.message);
  if (field !== undefined) assert.equal(err.field, field);
  return true;
};

test('client.live: registries, a push by activity id delivered to the current token, typed errors', async () => {
  const start = await client.live.registerPushToStart('demo', token(1), {
    attributesType: 'MatchAttributes',
    userId: 'u1',
  });
  assert.deepEqual([start.token, start.attributesType, start.userId], [token(1), 'MatchAttributes', 'u1']);
  assert.equal((await client.live.getPushToStart('demo', token(1), 'MatchAttributes')).userId, 'u1');
  await client.live.unregisterPushToStart('demo', token(1), 'MatchAttributes');
  await assert.rejects(
    client.live.getPushToStart('demo', token(1), 'MatchAttributes'),
    code('PF_ERR_NOT_FOUND', 'token'),
  );

  await client.live.registerActivity('demo', 'match-1', { token: token(2), userId: 'u1' });
  const rotated = await client.live.registerActivity('demo', 'match-1', { token: token(3) });
  assert.equal((await client.live.getActivity('demo', 'match-1')).token, rotated.token);
  const sent = await client.live.send('demo', {
    activityIds: ['match-1'],
    notification: { event: 'update', contentState: { home: 1 } },
  });
  assert.equal(sent.accepted, 1);
  let status = await client.getNotification('demo', sent.id);
  for (let i = 0; i < 100 && status.state !== 'done'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await client.getNotification('demo', sent.id);
  }
  assert.equal(status.delivered, 1);
  assert.equal(transport.sends.get(token(3)), 1, 'sent to the rotated token');
  assert.equal(transport.sends.get(token(2)), undefined);

  await assert.rejects(
    client.live.send('demo', {
      tokens: [token(4)],
      notification: { event: 'update', contentState: {}, dismissalDate: 1 },
    }),
    code('PF_ERR_VALIDATION', 'notification.dismissalDate'),
  );
  await client.live.forgetActivity('demo', 'match-1');
  await assert.rejects(client.live.getActivity('demo', 'match-1'), code('PF_ERR_NOT_FOUND', 'activityId'));
});

test('client.channels: create, list, get, broadcast until delivered, delete; a taken name is PF_ERR_CHANNEL_EXISTS', async () => {
  const made = await client.channels.create('demo', {
    name: 'final',
    messageStoragePolicy: 0,
    metadata: { cup: true },
  });
  assert.deepEqual([made.name, made.messageStoragePolicy, made.metadata], ['final', 0, { cup: true }]);
  await assert.rejects(
    client.channels.create('demo', { name: 'final' }),
    code('PF_ERR_CHANNEL_EXISTS', 'name'),
  );
  assert.deepEqual(
    (await client.channels.list('demo')).map((c) => c.channelId),
    [made.channelId],
  );
  assert.equal((await client.channels.get('demo', 'final')).channelId, made.channelId);
  const sent = await client.channels.broadcast('demo', 'final', {
    event: 'end',
    contentState: { home: 2 },
    dismissalDate: 0,
  });
  const done = await client.channels.waitForBroadcast('demo', sent.id, { intervalMs: 20, timeoutMs: 10_000 });
  assert.deepEqual([done.state, done.outcome, done.channel], ['done', 'delivered', 'final']);
  assert.equal(transport.sends.get(`channel:${made.channelId}`), 1);
  await assert.rejects(
    client.channels.broadcast('demo', 'final', { event: 'update', contentState: {}, expiration: 5 }),
    code('PF_ERR_VALIDATION', 'notification.expiration'),
  );
  await client.channels.delete('demo', 'final');
  await assert.rejects(client.channels.get('demo', 'final'), code('PF_ERR_NOT_FOUND', 'channel'));
});
