import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChannelClient, type ChannelClientTarget } from '@pushfleet/apns';
import {
  freePort,
  generateProviderKey,
  type RunningSimulatorProcess,
  startSimulatorProcess,
} from '@pushfleet/testkit';
import { startSimulator } from '../../apps/apns-sim/src/index.ts';

// The channel-management client (docs/apns-protocol.md §F.3, §F.4) against the simulator's
// channel port, as a process: every answer is a value, the limit and an unknown channel are
// their own reasons, certificates and tokens both work, and nothing takes longer than the
// request timeout.

const bundleId = 'com.example.channels';
const key = generateProviderKey();
let sim: RunningSimulatorProcess;

before(async () => {
  sim = await startSimulatorProcess();
  await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
});

after(async () => {
  await sim?.stop();
});

function target(overrides: Partial<ChannelClientTarget> = {}): ChannelClientTarget {
  return {
    environment: 'sandbox',
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.channelPort, caPem: sim.caPem },
    requestTimeoutMs: 3000,
    ...overrides,
  };
}

async function withClient<T>(t: ChannelClientTarget, run: (client: ChannelClient) => Promise<T>): Promise<T> {
  const client = new ChannelClient(t);
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

test('create (policy 0 and 1), read, list and delete; an unknown or deleted channel is ChannelNotRegistered', async () => {
  await withClient(target(), async (client) => {
    const requestId = '123e4567-e89b-42d3-a456-426614174000';
    const noStore = await client.create(bundleId, 0, requestId);
    assert.equal(noStore.kind, 'ok', JSON.stringify(noStore));
    assert.ok(noStore.kind === 'ok');
    assert.equal(noStore.requestId, requestId, 'APNs echoes apns-request-id');
    const stored = await client.create(bundleId, 1);
    assert.ok(stored.kind === 'ok', JSON.stringify(stored));
    assert.match(stored.channelId, /^[A-Za-z0-9+/]+={0,2}$/);

    const seen = await sim.control.channels(bundleId);
    assert.deepEqual(
      seen.map((c) => [c.channelId, c.messageStoragePolicy, c.deletedAt]),
      [
        [noStore.channelId, 0, null],
        [stored.channelId, 1, null],
      ],
      'the simulator holds exactly what the client created',
    );

    const read0 = await client.read(bundleId, noStore.channelId);
    assert.deepEqual(read0.kind === 'ok' && [read0.channelId, read0.storagePolicy], [noStore.channelId, 0]);
    const read1 = await client.read(bundleId, stored.channelId);
    assert.deepEqual(read1.kind === 'ok' && read1.storagePolicy, 1);
    const listed = await client.list(bundleId);
    assert.deepEqual(listed.kind === 'ok' && listed.channelIds, [noStore.channelId, stored.channelId]);

    const deleted = await client.delete(bundleId, noStore.channelId);
    assert.deepEqual(deleted.kind === 'ok' && deleted.channelId, noStore.channelId);
    const listedAfter = await client.list(bundleId);
    assert.deepEqual(listedAfter.kind === 'ok' && listedAfter.channelIds, [stored.channelId]);

    for (const answer of [
      await client.read(bundleId, noStore.channelId),
      await client.delete(bundleId, noStore.channelId),
      await client.read(bundleId, 'bm90LWEtY2hhbm5lbA=='),
    ]) {
      assert.equal(answer.kind, 'rejected');
      assert.ok(answer.kind === 'rejected');
      assert.deepEqual(
        [answer.status, answer.reason, answer.action],
        [400, 'ChannelNotRegistered', 'channel-gone'],
      );
      assert.match(answer.requestId ?? '', /^[0-9a-f-]{36}$/);
    }
    const badId = await client.read(bundleId, 'not base64!');
    assert.deepEqual(badId.kind === 'rejected' && [badId.reason, badId.action], ['BadChannelId', 'reject']);
  });
});

test('the 10,000-channel limit surfaces as CannotCreateChannelConfig (channel-limit)', async () => {
  const full = 'com.example.full';
  const seeded = await sim.control.seedChannels({ bundleId: full, count: 10_000 });
  assert.equal(seeded.length, 10_000);
  await withClient(target(), async (client) => {
    const refused = await client.create(full, 1);
    assert.ok(refused.kind === 'rejected', JSON.stringify(refused));
    assert.deepEqual(
      [refused.status, refused.reason, refused.action],
      [400, 'CannotCreateChannelConfig', 'channel-limit'],
    );
    const listed = await client.list(full);
    assert.equal(listed.kind === 'ok' && listed.channelIds.length, 10_000, 'the whole list is read');
    assert.ok(await client.delete(full, seeded[0]!).then((r) => r.kind === 'ok'));
    const room = await client.create(full, 1);
    assert.equal(room.kind, 'ok', 'one deleted, one may be made');
  });
});

test('certificate auth: a certificate for the app works; another app’s is TopicMismatch (credentials)', async () => {
  const own = await sim.control.clientCert({ topics: [bundleId] });
  await withClient(
    target({ credentials: { type: 'certificate', certPem: own.certPem, keyPem: own.keyPem } }),
    async (client) => {
      const created = await client.create(bundleId, 1);
      assert.equal(created.kind, 'ok', JSON.stringify(created));
    },
  );
  const other = await sim.control.clientCert({ topics: ['com.example.other'] });
  await withClient(
    target({ credentials: { type: 'certificate', certPem: other.certPem, keyPem: other.keyPem } }),
    async (client) => {
      const refused = await client.list(bundleId);
      assert.ok(refused.kind === 'rejected', JSON.stringify(refused));
      assert.deepEqual(
        [refused.status, refused.reason, refused.action],
        [403, 'TopicMismatch', 'credentials'],
      );
    },
  );
  await withClient(
    target({ credentials: { type: 'certificate', certPem: 'not a certificate', keyPem: 'nor a key' } }),
    async (client) => {
      const unusable = await client.list(bundleId);
      assert.ok(unusable.kind === 'failed' && unusable.credentials, JSON.stringify(unusable));
    },
  );
});

test('FeatureNotEnabled, an unknown key and throttling are values with their reason, action and Retry-After', async () => {
  const off = 'com.example.nobroadcast';
  await sim.control.setBroadcastCapability(off, false);
  const stranger = generateProviderKey();
  await withClient(target(), async (client) => {
    const disabled = await client.create(off, 1);
    assert.deepEqual(disabled.kind === 'rejected' && [disabled.reason, disabled.action], [
      'FeatureNotEnabled',
      'feature-disabled',
    ]);
    await sim.control.addFault({ target: 'channels', reason: 'TooManyRequests', retryAfter: 7, count: 1 });
    const throttled = await client.list(bundleId);
    assert.ok(throttled.kind === 'rejected', JSON.stringify(throttled));
    assert.deepEqual(
      [throttled.status, throttled.reason, throttled.action, throttled.retryAfter],
      [429, 'TooManyRequests', 'retry', 7],
    );
    assert.equal((await client.list(bundleId)).kind, 'ok', 'the fault fired once');
  });
  await withClient(
    target({
      credentials: {
        type: 'token',
        keyPem: stranger.privateKeyPem,
        keyId: stranger.keyId,
        teamId: stranger.teamId,
      },
    }),
    async (client) => {
      const refused = await client.list(bundleId);
      assert.deepEqual(refused.kind === 'rejected' && [refused.status, refused.reason, refused.action], [
        403,
        'InvalidProviderToken',
        'credentials',
      ]);
    },
  );
});

test('every request ends within the timeout: a silent server, a closed port, a GOAWAY', async () => {
  await sim.control.addFault({ target: 'channels', latencyMs: 5000, count: 1 });
  await withClient(target({ requestTimeoutMs: 300 }), async (client) => {
    const started = Date.now();
    const slow = await client.list(bundleId);
    assert.deepEqual(slow, { kind: 'failed', error: 'request timeout' });
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  });
  await sim.control.clearFaults();

  const closedPort = await freePort();
  await withClient(
    target({ endpoint: { host: '127.0.0.1', port: closedPort, caPem: sim.caPem }, requestTimeoutMs: 2000 }),
    async (client) => {
      const started = Date.now();
      const answer = await client.create(bundleId, 1);
      assert.equal(answer.kind, 'failed', JSON.stringify(answer));
      assert.ok(Date.now() - started < 2500);
    },
  );

  // After a GOAWAY the next request opens a new connection.
  await withClient(target(), async (client) => {
    const before = (await sim.control.stats()).channels.connections;
    await sim.control.addFault({ target: 'channels', goawayAfter: 1, count: 1 });
    assert.equal((await client.list(bundleId)).kind, 'ok');
    assert.equal((await client.list(bundleId)).kind, 'ok');
    await sim.control.clearFaults();
    assert.equal((await sim.control.stats()).channels.connections - before, 2);
  });
});

test('an expired provider token is re-signed and the request sent again, once', async () => {
  // In process, with a clock of its own: the simulator runs 61 minutes ahead of the client, so
  // the client's 30-minute-old token is past APNs' hour there.
  let clientOffset = 0;
  let simOffset = 0;
  const local = await startSimulator({ now: () => Date.now() + simOffset, logLevel: 'silent' });
  try {
    const res = await fetch(`http://127.0.0.1:${local.controlPort}/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem }),
    });
    assert.equal(res.status, 201);
    const client = new ChannelClient(
      target({ endpoint: { host: '127.0.0.1', port: local.channelPort, caPem: local.caPem } }),
      { clock: () => Date.now() + clientOffset },
    );
    try {
      assert.equal((await client.list(bundleId)).kind, 'ok');
      clientOffset = 30 * 60_000;
      simOffset = 61 * 60_000;
      const created = await client.create(bundleId, 0);
      assert.equal(created.kind, 'ok', JSON.stringify(created));
      const stats = (await (await fetch(`http://127.0.0.1:${local.controlPort}/stats`)).json()) as {
        channels: { rejected: Record<string, number>; created: number };
      };
      assert.deepEqual(stats.channels.rejected, { ExpiredProviderToken: 1 }, 'refused once, then sent again');
      assert.equal(stats.channels.created, 1, 'created exactly once');
      // A token younger than 20 minutes is not re-signed (TooManyProviderTokenUpdates otherwise):
      // the refusal comes back as a value, with the action that says what to do.
      simOffset = 30 * 60_000 + 61 * 60_000;
      clientOffset = 30 * 60_000 + 5 * 60_000;
      const refused = await client.list(bundleId);
      assert.deepEqual(refused.kind === 'rejected' && [refused.reason, refused.action], [
        'ExpiredProviderToken',
        'refresh-token',
      ]);
    } finally {
      await client.close();
    }
  } finally {
    await local.close();
  }
});
