import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  jwt,
  makeKey,
  type Response,
  request,
  type SimFixture,
  startFixture,
  TOPIC,
  UUID_RE,
} from './helpers.ts';

const CHANNELS = `/1/apps/${TOPIC}/channels`;
const ALL = `/1/apps/${TOPIC}/all-channels`;
const base64Re = /^[A-Za-z0-9+/]+={0,2}$/;

describe('channel management API (channel port)', () => {
  let f: SimFixture;
  let s: ClientHttp2Session;
  let auth: { authorization: string };
  before(async () => {
    f = await startFixture({ channelLimit: 3 });
    auth = { authorization: f.bearer };
  });
  beforeEach(async () => {
    await f.control('DELETE', '/channels');
    await f.control('DELETE', '/faults');
    s = await f.connectChannels();
  });
  after(() => f.close());

  const create = (policy: unknown = 1, headers: Record<string, string> = {}, path = CHANNELS) =>
    request(
      s,
      'POST',
      path,
      { ...auth, ...headers },
      JSON.stringify({ 'message-storage-policy': policy, 'push-type': 'LiveActivity' }),
    );
  const created = async (policy: 0 | 1 = 1): Promise<string> => {
    const res = await create(policy);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return String(res.headers['apns-channel-id']);
  };
  const rejected = (res: Response, status: number, reason: string, name = reason) => {
    assert.equal(res.status, status, name);
    assert.deepEqual(res.body, { reason }, name);
    assert.equal(res.headers['content-type'], 'application/json', name);
    assert.match(String(res.headers['apns-request-id']), UUID_RE, `${name}: apns-request-id`);
    assert.equal(res.headers['apns-id'], undefined, `${name}: no apns-id`);
  };

  test('lifecycle: create (policy 0 and 1), read, list, delete, then the channel is gone', async () => {
    const requestId = '2288cf3f-70d8-46a6-97d7-dd5d00867127';
    const res = await create(1, { 'apns-request-id': requestId });
    assert.equal(res.status, 201);
    assert.equal(res.body, undefined, 'empty body');
    assert.equal(res.headers['apns-request-id'], requestId);
    const stored = String(res.headers['apns-channel-id']);
    assert.match(stored, base64Re);
    assert.equal(Buffer.from(stored, 'base64').length, 16);
    const noStore = await created(0);
    assert.notEqual(noStore, stored);

    const read1 = await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': stored });
    assert.equal(read1.status, 200);
    assert.deepEqual(read1.body, { 'message-storage-policy': 1, 'push-type': 'LiveActivity' });
    assert.match(String(read1.headers['apns-request-id']), UUID_RE, 'generated request id');
    const read0 = await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': noStore });
    assert.deepEqual(read0.body, { 'message-storage-policy': 0, 'push-type': 'LiveActivity' });

    const list = await request(s, 'GET', ALL, auth);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { channels: [stored, noStore] });

    const del = await request(s, 'DELETE', CHANNELS, { ...auth, 'apns-channel-id': stored });
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined);
    assert.deepEqual((await request(s, 'GET', ALL, auth)).body, { channels: [noStore] });
    rejected(
      await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': stored }),
      400,
      'ChannelNotRegistered',
      'read after delete',
    );
    rejected(
      await request(s, 'DELETE', CHANNELS, { ...auth, 'apns-channel-id': stored }),
      400,
      'ChannelNotRegistered',
      'delete twice',
    );

    const listed = (await f.control('GET', `/channels?bundleId=${TOPIC}`)).body;
    assert.deepEqual(
      listed.map((c: { channelId: string; messageStoragePolicy: number; deletedAt: number | null }) => [
        c.channelId,
        c.messageStoragePolicy,
        c.deletedAt === null,
      ]),
      [
        [stored, 1, false],
        [noStore, 0, true],
      ],
    );
    const stats = (await f.control('GET', '/stats')).body;
    assert.equal(stats.channels.created, 2);
    assert.equal(stats.channels.deleted, 1);
    assert.equal(stats.channels.active, 1);
    assert.equal(stats.channels.connections >= 1, true);
    assert.equal(stats.requests, 0, 'channel requests are not device pushes');
  });

  test('unknown channel, a channel of another app, and an empty list', async () => {
    const unknown = Buffer.from('no-such-channel!').toString('base64');
    rejected(
      await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': unknown }),
      400,
      'ChannelNotRegistered',
    );
    const id = await created();
    const other = await request(s, 'GET', '/1/apps/com.example.other/channels', {
      ...auth,
      'apns-channel-id': id,
    });
    rejected(other, 400, 'ChannelNotRegistered', 'another app');
    assert.deepEqual((await request(s, 'GET', '/1/apps/com.example.other/all-channels', auth)).body, {
      channels: [],
    });
  });

  test('the per-app limit is CannotCreateChannelConfig; deleting makes room; other apps unaffected', async () => {
    const ids = [await created(), await created(0), await created()];
    rejected(await create(), 400, 'CannotCreateChannelConfig');
    const other = await create(1, {}, '/1/apps/com.example.other/channels');
    assert.equal(other.status, 201);
    await request(s, 'DELETE', CHANNELS, { ...auth, 'apns-channel-id': ids[0]! });
    assert.equal((await create()).status, 201);
    rejected(await create(), 400, 'CannotCreateChannelConfig', 'full again');
    const seed = await f.control('POST', '/channels', { bundleId: TOPIC });
    assert.equal(seed.status, 409, 'seeding respects the limit too');
  });

  test('auth failures: token and certificate', async () => {
    const bare = await f.connectChannels();
    const post = (session: ClientHttp2Session, headers: Record<string, string>) =>
      request(
        session,
        'POST',
        CHANNELS,
        headers,
        JSON.stringify({ 'message-storage-policy': 1, 'push-type': 'LiveActivity' }),
      );
    rejected(await post(bare, {}), 403, 'MissingProviderToken');
    rejected(await post(bare, { authorization: 'bearer a.b.c' }), 403, 'InvalidProviderToken');
    const stale = jwt(f.key, { iat: Math.floor(Date.now() / 1000) - 3700 });
    rejected(await post(bare, { authorization: `bearer ${stale}` }), 403, 'ExpiredProviderToken');

    // A key for the other environment: the device API's BadEnvironmentKeyIdInToken is not a §F.4 reason.
    const prodKey = makeKey();
    await f.control('POST', '/keys', { ...prodKey, privateKey: undefined, environment: 'production' });
    rejected(
      await post(await f.connectChannels(), { authorization: `bearer ${jwt(prodKey)}` }),
      403,
      'InvalidProviderToken',
      'other-environment key',
    );
    // A topic key for another app: TopicMismatch.
    const topicKey = makeKey();
    await f.control('POST', '/keys', { ...topicKey, privateKey: undefined, topics: ['com.example.other'] });
    rejected(
      await post(await f.connectChannels(), { authorization: `bearer ${jwt(topicKey)}` }),
      403,
      'TopicMismatch',
      'topic key',
    );
    // A new token on the same connection within 20 minutes.
    const t = await f.connectChannels();
    assert.equal((await post(t, auth)).status, 201);
    const fresh = jwt(f.key, { iat: Math.floor(Date.now() / 1000) - 1 });
    rejected(await post(t, { authorization: `bearer ${fresh}` }), 429, 'TooManyProviderTokenUpdates');

    const cert = async (body: Record<string, unknown>) =>
      (await f.control('POST', '/client-certs', body)).body as { certPem: string; keyPem: string };
    const good = await f.connectChannels(await cert({ topics: [TOPIC] }));
    assert.equal((await post(good, {})).status, 201, 'certificate auth works here');
    const wrongApp = await f.connectChannels(await cert({ topics: ['com.example.other'] }));
    rejected(await post(wrongApp, {}), 403, 'TopicMismatch', 'certificate of another app');
    const prod = await f.connectChannels(await cert({ topics: [TOPIC], environment: 'production' }));
    rejected(await post(prod, {}), 403, 'BadCertificateEnvironment');
    const untrusted = await f.connectChannels(await cert({ topics: [TOPIC], untrusted: true }));
    rejected(await post(untrusted, {}), 403, 'BadCertificate');
  });

  test('every request reason of the channel API', async () => {
    const id = await created();
    const body = (v: unknown) => JSON.stringify(v);
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['bad apns-request-id', () => create(1, { 'apns-request-id': 'nope' }), 400, 'BadMessageId'],
      ['unknown path', () => request(s, 'GET', `/1/apps/${TOPIC}/channel`, auth), 404, 'BadPath'],
      ['no bundle id', () => request(s, 'GET', '/1/apps//channels', auth), 404, 'BadPath'],
      [
        'device path on the channel port',
        () => request(s, 'POST', '/3/device/ab', auth, '{}'),
        404,
        'BadPath',
      ],
      ['PUT on channels', () => request(s, 'PUT', CHANNELS, auth, '{}'), 405, 'MethodNotAllowed'],
      ['POST on all-channels', () => request(s, 'POST', ALL, auth, '{}'), 405, 'MethodNotAllowed'],
      [
        'push-type suffix on the bundle id',
        () => create(1, {}, `/1/apps/${TOPIC}.push-type.liveactivity/channels`),
        400,
        'TopicDisallowed',
      ],
      ['read without channel id', () => request(s, 'GET', CHANNELS, auth), 400, 'MissingChannelId'],
      [
        'delete with a non-base64 channel id',
        () => request(s, 'DELETE', CHANNELS, { ...auth, 'apns-channel-id': 'not base64!' }),
        400,
        'BadChannelId',
      ],
      [
        'channel id too long',
        () => request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': 'QUFB'.repeat(40) }),
        400,
        'BadChannelId',
      ],
      ['empty create body', () => request(s, 'POST', CHANNELS, auth, ''), 400, 'PayloadEmpty'],
      ['create body not JSON', () => request(s, 'POST', CHANNELS, auth, '{'), 400, 'BadRequestPayload'],
      ['create body an array', () => request(s, 'POST', CHANNELS, auth, '[]'), 400, 'BadRequestPayload'],
      [
        'unknown attribute',
        () =>
          request(
            s,
            'POST',
            CHANNELS,
            auth,
            body({ 'message-storage-policy': 1, 'push-type': 'LiveActivity', name: 'x' }),
          ),
        400,
        'BadRequestParams',
      ],
      ['policy 2', () => create(2), 400, 'BadRequestParams'],
      ['policy as a string', () => create('1'), 400, 'BadRequestParams'],
      [
        'no policy',
        () => request(s, 'POST', CHANNELS, auth, body({ 'push-type': 'LiveActivity' })),
        400,
        'BadRequestParams',
      ],
      [
        'no push type',
        () => request(s, 'POST', CHANNELS, auth, body({ 'message-storage-policy': 0 })),
        400,
        'MissingPushType',
      ],
      [
        'push type alert',
        () => request(s, 'POST', CHANNELS, auth, body({ 'message-storage-policy': 0, 'push-type': 'alert' })),
        400,
        'InvalidPushType',
      ],
      [
        'oversized create body',
        () =>
          request(
            s,
            'POST',
            CHANNELS,
            auth,
            `{"message-storage-policy":1,"push-type":"LiveActivity"}${' '.repeat(5100)}`,
          ),
        413,
        'PayloadTooLarge',
      ],
    ];
    for (const [name, run, status, reason] of cases) rejected(await run(), status, reason, name);
    // Apple spells the push type three ways; every capitalisation is accepted.
    for (const spelling of ['liveactivity', 'Liveactivity', 'LIVEACTIVITY']) {
      await f.control('DELETE', '/channels');
      const res = await request(
        s,
        'POST',
        CHANNELS,
        auth,
        body({ 'message-storage-policy': 0, 'push-type': spelling }),
      );
      assert.equal(res.status, 201, spelling);
    }
    assert.ok(id);
    const stats = (await f.control('GET', '/stats')).body.channels;
    assert.equal(stats.rejected.BadRequestParams, 4);
  });

  test('FeatureNotEnabled once the app has broadcast switched off', async () => {
    const id = await created();
    await f.control('POST', '/broadcast-capability', { bundleId: TOPIC, enabled: false });
    rejected(await create(), 400, 'FeatureNotEnabled', 'create');
    rejected(await request(s, 'GET', ALL, auth), 400, 'FeatureNotEnabled', 'list');
    rejected(
      await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': id }),
      400,
      'FeatureNotEnabled',
      'read',
    );
    await f.control('POST', '/broadcast-capability', { bundleId: TOPIC, enabled: true });
    assert.equal((await create()).status, 201);
  });

  test('faults target channel requests, optionally one channel id; device faults do not', async () => {
    const id = await created();
    await f.control('POST', '/faults', { status: 503, reason: 'ServiceUnavailable' });
    assert.equal((await create()).status, 201, 'a default (device) fault leaves channels alone');
    await f.control('DELETE', '/faults');
    const added = await f.control('POST', '/faults', {
      target: 'channels',
      reason: 'TooManyRequests',
      channelId: id,
      retryAfter: 3,
      count: 1,
    });
    assert.equal(added.status, 201);
    assert.equal((await create()).status, 201, 'no channel id: not matched');
    const res = await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': id });
    rejected(res, 429, 'TooManyRequests');
    assert.equal(res.headers['retry-after'], '3');
    assert.equal((await request(s, 'GET', CHANNELS, { ...auth, 'apns-channel-id': id })).status, 200);

    await f.control('POST', '/faults', { target: 'channels', reason: 'CannotCreateChannelConfig', count: 1 });
    rejected(await create(), 400, 'CannotCreateChannelConfig', 'status looked up in the §F.4 table');
    await f.control('POST', '/faults', {
      target: 'channels',
      status: 503,
      reason: 'Service Unavailable',
      count: 1,
    });
    rejected(await create(), 503, 'Service Unavailable', "Apple's spelling");
    const bad = await f.control('POST', '/faults', { target: 'channels', token: 'abcd' });
    assert.equal(bad.status, 400, 'token is for device faults');
  });
});

describe('channel limit default', () => {
  test('10,000 active channels per app: the 10,001st is CannotCreateChannelConfig', async () => {
    const f = await startFixture();
    try {
      const seeded = await f.control('POST', '/channels', { bundleId: TOPIC, count: 9_999 });
      assert.equal(seeded.body.channelIds.length, 9_999);
      const s = await f.connectChannels();
      const create = () =>
        request(
          s,
          'POST',
          CHANNELS,
          { authorization: f.bearer },
          JSON.stringify({ 'message-storage-policy': 0, 'push-type': 'LiveActivity' }),
        );
      assert.equal((await create()).status, 201);
      const res = await create();
      assert.deepEqual([res.status, res.body], [400, { reason: 'CannotCreateChannelConfig' }]);
      const list = await request(s, 'GET', ALL, { authorization: f.bearer });
      assert.equal(list.body.channels.length, 10_000);
    } finally {
      await f.close();
    }
  });
});
