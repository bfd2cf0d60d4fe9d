import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ChannelClient,
  FailingTransport,
  Http2Transport,
  type SendResult,
  type TransportTarget,
} from '@pushfleet/apns';
import {
  broadcastActionFor,
  broadcastNotificationSchema,
  notificationSchema,
  type PreparedBroadcast,
  type PushTransport,
  prepareBroadcast,
  prepareNotification,
  topicFor,
  validateBroadcastRequest,
} from '@pushfleet/core';
import {
  generateProviderKey,
  type RunningSimulatorProcess,
  randomDeviceTokens,
  startSimulatorProcess,
} from '@pushfleet/testkit';

// Broadcasts (docs/apns-protocol.md §F.2) over the transport's pooled connections, and Live
// Activity device pushes (§H), against the simulator as a process, on both HTTP/2 clients.

const bundleId = 'com.example.match';
const key = generateProviderKey();
let sim: RunningSimulatorProcess;
let noStore: string;
let stored: string;

before(async () => {
  sim = await startSimulatorProcess();
  await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  const channels = new ChannelClient({
    environment: 'sandbox',
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.channelPort, caPem: sim.caPem },
    requestTimeoutMs: 3000,
  });
  const made = [await channels.create(bundleId, 0), await channels.create(bundleId, 1)];
  await channels.close();
  assert.ok(made[0]?.kind === 'ok' && made[1]?.kind === 'ok', JSON.stringify(made));
  noStore = made[0].channelId;
  stored = made[1].channelId;
});

after(async () => {
  await sim?.stop();
});

function target(overrides: Partial<TransportTarget> = {}): TransportTarget {
  return {
    environment: 'sandbox',
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.port, caPem: sim.caPem },
    connections: 1,
    maxInFlightPerConnection: 100,
    requestTimeoutMs: 3000,
    ...overrides,
  };
}

const clients = ['lean', 'node-http2'] as const;

function clientTest(name: string, fn: (transport: (t?: TransportTarget) => Http2Transport) => Promise<void>) {
  for (const client of clients) {
    test(`${name} [${client}]`, async () => {
      const made: Http2Transport[] = [];
      try {
        await fn((t = target()) => {
          const transport = new Http2Transport(t, {}, { client });
          made.push(transport);
          return transport;
        });
      } finally {
        await Promise.all(made.map((t) => t.close()));
      }
    });
  }
}

const update = (score: [number, number], extra: Record<string, unknown> = {}) => ({
  notification: {
    event: 'update',
    timestamp: 1767226800,
    contentState: { home: score[0], away: score[1] },
    ...extra,
  },
});

clientTest(
  'a broadcast is one request on the pool: body byte for byte, every header, request id echoed',
  async (make) => {
    const transport: PushTransport = make();
    const before = await sim.control.stats();
    const requestId = crypto.randomUUID();
    const prepared = validateBroadcastRequest(update([1, 0], { requestId, priority: 5 }), {
      bundleId,
      storagePolicy: 0,
    });
    const result = await transport.sendBroadcast!(prepared, noStore);
    assert.deepEqual(result, { kind: 'accepted', apnsId: requestId });
    const recorded = (await sim.control.broadcasts(noStore)).find((b) => b.requestId === requestId);
    assert.ok(recorded, 'the simulator recorded the broadcast');
    assert.equal(recorded.body, prepared.payload);
    assert.equal(
      recorded.body,
      '{"aps":{"event":"update","timestamp":1767226800,"content-state":{"home":1,"away":0}}}',
    );
    assert.equal(recorded.headers['apns-channel-id'], noStore);
    assert.equal(recorded.headers['apns-push-type'], 'liveactivity');
    assert.equal(recorded.headers['apns-priority'], '5');
    assert.equal(recorded.headers['apns-expiration'], '0');
    assert.equal(recorded.headers['apns-topic'], undefined, 'no topic: the bundle id is in the path');

    // Device pushes and broadcasts share the connection and its provider token.
    const alert = prepareNotification(notificationSchema.parse({ alert: 'hi' }), bundleId);
    const sent = await transport.send(alert, randomDeviceTokens(5));
    assert.ok(sent.every((r) => r.kind === 'accepted'));
    const second = await transport.sendBroadcast!(
      validateBroadcastRequest(update([2, 0]), { bundleId, storagePolicy: 1 }),
      stored,
    );
    assert.equal(second.kind, 'accepted');
    assert.match(
      second.kind === 'accepted' ? (second.apnsId ?? '') : '',
      /^[0-9a-f-]{36}$/,
      'APNs made one up',
    );
    const after = await sim.control.stats();
    assert.equal(after.connections - before.connections, 1, 'one connection for all of it');
    assert.equal(after.broadcasts.accepted - before.broadcasts.accepted, 2);
  },
);

clientTest(
  'refusals are values: wrong expiration on a policy-0 channel, an unknown channel, no capability, throttling',
  async (make) => {
    const transport = make();
    // Core refuses this before it is queued; a stale policy (the channel was re-made) is what
    // lets it through, and APNs' answer is then a value the worker classifies.
    const expiring = prepareBroadcast(
      broadcastNotificationSchema.parse({ ...update([3, 0]).notification, expiration: 1767230000 }),
      { bundleId, storagePolicy: 1 },
    );
    const results: SendResult[] = [
      await transport.sendBroadcast(expiring, noStore),
      await transport.sendBroadcast(expiring, 'bm90LWEtY2hhbm5lbA=='),
    ];
    assert.deepEqual(
      results.map(
        (r) => r.kind === 'rejected' && [r.status, r.reason, broadcastActionFor(r.status, r.reason)],
      ),
      [
        [400, 'BadExpirationDate', 'reject'],
        [400, 'ChannelNotRegistered', 'channel-gone'],
      ],
    );
    assert.equal(
      (await transport.sendBroadcast(expiring, stored)).kind,
      'accepted',
      'a stored-message channel takes it',
    );

    const off = 'com.example.off';
    await sim.control.setBroadcastCapability(off, false);
    const disabled = await transport.sendBroadcast({ ...expiring, bundleId: off }, stored);
    assert.deepEqual(disabled.kind === 'rejected' && disabled.reason, 'FeatureNotEnabled');

    await sim.control.addFault({ target: 'broadcast', reason: 'TooManyRequests', retryAfter: 3, count: 1 });
    const throttled = await transport.sendBroadcast(expiring, stored);
    assert.deepEqual(throttled, { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 3 });

    const tooBig: PreparedBroadcast = {
      ...expiring,
      payload: JSON.stringify({ aps: {}, pad: 'x'.repeat(5200) }),
    };
    const large = await transport.sendBroadcast(tooBig, stored);
    assert.deepEqual(large.kind === 'rejected' && [large.status, large.reason], [413, 'PayloadTooLarge']);
  },
);

clientTest(
  'a certificate app broadcasts too; a broadcast on a closed transport fails as a value',
  async (make) => {
    const cert = await sim.control.clientCert({ topics: [bundleId] });
    const transport = make(
      target({ credentials: { type: 'certificate', certPem: cert.certPem, keyPem: cert.keyPem } }),
    );
    const prepared = validateBroadcastRequest(update([4, 0]), { bundleId, storagePolicy: 1 });
    assert.equal((await transport.sendBroadcast(prepared, stored)).kind, 'accepted');
    await transport.close();
    assert.deepEqual(await transport.sendBroadcast(prepared, stored), {
      kind: 'failed',
      error: 'transport closed',
    });
    const failing = new FailingTransport('credentials: unusable', true);
    assert.deepEqual(await failing.sendBroadcast(prepared, stored), {
      kind: 'failed',
      error: 'credentials: unusable',
      credentials: true,
    });
  },
);

clientTest(
  'Live Activity start, update and end reach the device byte for byte; a certificate app gets BadTopic',
  async (make) => {
    const transport = make();
    const [token] = randomDeviceTokens(1);
    const pushes = [
      {
        pushType: 'liveactivity',
        event: 'start',
        timestamp: 1767225600,
        attributesType: 'MatchAttributes',
        attributes: { matchId: 'm42' },
        contentState: { home: 0, away: 0 },
        alert: { title: 'Kick-off', body: 'Reds vs Blues', sound: 'default' },
        inputPushChannel: noStore,
      },
      {
        pushType: 'liveactivity',
        event: 'update',
        timestamp: 1767226800,
        contentState: { home: 1, away: 0 },
        staleDate: 1767228600,
        relevanceScore: 100,
        priority: 5,
      },
      {
        pushType: 'liveactivity',
        event: 'end',
        timestamp: 1767232000,
        contentState: { home: 2, away: 1 },
        dismissalDate: 1767235600,
      },
    ].map((n) => {
      const parsed = notificationSchema.parse(n);
      return prepareNotification(parsed, topicFor(bundleId, parsed.pushType));
    });
    for (const prepared of pushes) {
      const [result] = await transport.send(prepared, [token!]);
      assert.equal(result?.kind, 'accepted', JSON.stringify(result));
    }
    const deliveries = await sim.control.deliveries(token!);
    assert.deepEqual(
      deliveries.map((d) => d.body),
      pushes.map((p) => p.payload),
    );
    assert.equal(
      deliveries[0]?.body,
      '{"aps":{"event":"start","timestamp":1767225600,"attributes-type":"MatchAttributes","attributes":{"matchId":"m42"},' +
        `"content-state":{"home":0,"away":0},"alert":{"title":"Kick-off","body":"Reds vs Blues","sound":"default"},"input-push-channel":"${noStore}"}}`,
    );
    assert.deepEqual(
      deliveries.map((d) => [d.headers['apns-topic'], d.headers['apns-push-type']]),
      Array(3).fill([`${bundleId}.push-type.liveactivity`, 'liveactivity']),
    );

    // Why core refuses these for certificate apps (PF_ERR_TOKEN_AUTH_REQUIRED): APNs takes Live
    // Activities on token connections only, and the simulator answers a certificate one BadTopic.
    const cert = await sim.control.clientCert({ topics: [bundleId, `${bundleId}.push-type.liveactivity`] });
    const byCert = make(
      target({ credentials: { type: 'certificate', certPem: cert.certPem, keyPem: cert.keyPem } }),
    );
    const [refused] = await byCert.send(pushes[1]!, [token!]);
    assert.deepEqual(refused?.kind === 'rejected' && [refused.status, refused.reason], [400, 'BadTopic']);
  },
);
