/**
 * @parse/node-apn 8.1, unmodified, against the simulator as a process: its channel management
 * (`manageChannels`) goes to the channel port through its documented `manageChannelsAddress` /
 * `manageChannelsPort` options, broadcasts and device pushes to the provider port through
 * `address` / `port`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import apn from '@parse/node-apn';
import {
  type RunningSimulatorProcess,
  startSimulatorProcess,
} from '../../../packages/testkit/src/simulator.ts';
import { makeKey, randomToken, TOPIC } from './helpers.ts';

const UUID = '0309f412-aa57-46a8-9ac6-b5aeca8c4594';

describe('@parse/node-apn interop: manageChannels and broadcast', { timeout: 60_000 }, () => {
  let sim: RunningSimulatorProcess;
  let provider: apn.Provider;
  before(async () => {
    sim = await startSimulatorProcess();
    const key = makeKey();
    await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
    provider = new apn.Provider({
      token: {
        key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        keyId: key.keyId,
        teamId: key.teamId,
      },
      production: false,
      address: '127.0.0.1',
      port: sim.port,
      manageChannelsAddress: '127.0.0.1',
      manageChannelsPort: sim.channelPort,
      ca: [sim.caPem],
      connectionRetryLimit: 0,
    });
  });
  after(async () => {
    await new Promise<void>((resolve) => provider.shutdown(() => resolve()));
    assert.equal(await sim.stop(), 0);
  });

  /** node-apn's typings leave out the headers and body fields it merges into each result. */
  const fields = (result: unknown): Record<string, string> => result as Record<string, string>;
  /** The exact body node-apn sent (`compile()` is cached, so it is the same string). */
  const compiled = (n: apn.Notification): string => (n as unknown as { compile(): string }).compile();
  const note = (props: Record<string, unknown>): apn.Notification => {
    const n = new apn.Notification();
    Object.assign(n, props);
    return n;
  };

  test('create (policy 0 and 1), read, readAll, broadcast, delete', async () => {
    // node-apn adds "push-type": "liveactivity" to a create body that has none.
    const created0 = await provider.manageChannels(
      note({ requestId: UUID, payload: { 'message-storage-policy': 0 } }),
      TOPIC,
      'create',
    );
    assert.deepEqual(created0.failed, []);
    const c0 = fields(created0.sent[0]);
    assert.equal(c0['apns-request-id'], UUID);
    assert.equal(c0.bundleId, TOPIC);
    const noStore = c0['apns-channel-id']!;
    assert.match(noStore, /^[A-Za-z0-9+/]+={0,2}$/);
    const created1 = await provider.manageChannels(
      note({ payload: { 'message-storage-policy': 1, 'push-type': 'LiveActivity' } }),
      TOPIC,
      'create',
    );
    const stored = fields(created1.sent[0])['apns-channel-id']!;

    const read = await provider.manageChannels(note({ channelId: stored }), TOPIC, 'read');
    assert.deepEqual(read.failed, []);
    assert.equal(fields(read.sent[0])['message-storage-policy'], 1);
    assert.equal(fields(read.sent[0])['push-type'], 'LiveActivity');
    const all = await provider.manageChannels(note({}), TOPIC, 'readAll');
    assert.deepEqual((all.sent[0] as unknown as { channels: string[] }).channels, [noStore, stored]);

    const update = note({
      channelId: noStore,
      pushType: 'liveactivity',
      expiry: 0,
      priority: 10,
      event: 'update',
      timestamp: 1767226800,
      contentState: { home: 1, away: 0 },
      relevanceScore: 100,
    });
    const sent = await provider.broadcast(update, TOPIC);
    assert.deepEqual(sent.failed, []);
    const answer = fields(sent.sent[0]);
    assert.match(answer['apns-request-id']!, /^[0-9a-f-]{36}$/);
    assert.match(answer['apns-unique-id']!, /^[0-9a-f-]{36}$/);
    const [recorded] = await sim.control.broadcasts(noStore);
    assert.equal(recorded!.body, compiled(update), 'the body node-apn built, byte for byte');
    assert.deepEqual(recorded!.payload, {
      aps: {
        event: 'update',
        timestamp: 1767226800,
        'content-state': { home: 1, away: 0 },
        'relevance-score': 100,
      },
    });
    assert.equal(recorded!.headers['apns-channel-id'], noStore);
    assert.equal(recorded!.headers['apns-push-type'], 'liveactivity');
    assert.equal(recorded!.headers['apns-priority'], '10');
    assert.equal(recorded!.headers['apns-expiration'], '0');
    assert.equal(recorded!.uniqueId, answer['apns-unique-id']);

    const later = Math.floor(Date.now() / 1000) + 3600;
    const onStored = await provider.broadcast(
      note({
        channelId: stored,
        pushType: 'liveactivity',
        expiry: later,
        priority: 5,
        event: 'end',
        timestamp: 1,
      }),
      TOPIC,
    );
    assert.deepEqual(onStored.failed, [], 'a stored-message channel takes an expiration');

    const deleted = await provider.manageChannels(note({ channelId: noStore }), TOPIC, 'delete');
    assert.deepEqual(deleted.failed, []);
    const gone = await provider.manageChannels(note({ channelId: noStore }), TOPIC, 'read');
    const failure = gone.failed[0] as { status: number; response: { reason: string } };
    assert.deepEqual([failure.status, failure.response], [400, { reason: 'ChannelNotRegistered' }]);
    const stats = await sim.control.stats();
    assert.equal(stats.channels.created, 2);
    assert.equal(stats.channels.deleted, 1);
    assert.equal(stats.broadcasts.accepted, 2);
  });

  test('rejections reach node-apn as status + reason', async () => {
    const [noStore] = await sim.control.seedChannels({ bundleId: TOPIC, messageStoragePolicy: 0 });
    const reasonOf = async (n: apn.Notification) => {
      const result = await provider.broadcast(n, TOPIC);
      assert.equal(result.sent.length, 0);
      const failure = result.failed[0] as { status: number; response: { reason: string } };
      return [failure.status, failure.response.reason];
    };
    const expiring = Math.floor(Date.now() / 1000) + 60;
    assert.deepEqual(
      await reasonOf(
        note({ channelId: noStore, pushType: 'liveactivity', expiry: expiring, event: 'update' }),
      ),
      [400, 'BadExpirationDate'],
    );
    // node-apn sends apns-expiration only when `expiry` is set; Apple requires it on broadcasts.
    assert.deepEqual(
      await reasonOf(note({ channelId: noStore, pushType: 'liveactivity', event: 'update' })),
      [400, 'BadExpirationDate'],
    );
    assert.deepEqual(await reasonOf(note({ pushType: 'liveactivity', expiry: 0 })), [
      400,
      'MissingChannelId',
    ]);
    const big = note({
      channelId: noStore,
      pushType: 'liveactivity',
      expiry: 0,
      payload: { pad: 'x'.repeat(5200) },
    });
    assert.deepEqual(await reasonOf(big), [413, 'PayloadTooLarge']);
  });

  test('a Live Activity device push through node-apn is recorded byte for byte', async () => {
    const token = randomToken();
    const start = note({
      topic: `${TOPIC}.push-type.liveactivity`,
      pushType: 'liveactivity',
      event: 'start',
      timestamp: 1767225600,
      attributesType: 'MatchAttributes',
      attributes: { matchId: 'm42' },
      contentState: { home: 0, away: 0 },
      alert: { title: 'Kick-off', body: 'Reds vs Blues' },
      inputPushChannel: 'dHN0LWNoYW5uZWw=',
    });
    const result = await provider.send(start, token);
    assert.deepEqual(result.failed, []);
    const [delivery] = await sim.control.deliveries(token);
    assert.equal(delivery!.body, compiled(start));
    assert.equal(
      (delivery!.payload as { aps: Record<string, unknown> }).aps['input-push-channel'],
      'dHN0LWNoYW5uZWw=',
    );
  });
});
