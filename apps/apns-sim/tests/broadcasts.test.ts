import assert from 'node:assert/strict';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, beforeEach, describe, test } from 'node:test';
import { broadcastReasonStatus } from '../src/index.ts';
import {
  jwt,
  makeKey,
  type Response,
  randomToken,
  request,
  type SimFixture,
  send,
  startFixture,
  TOPIC,
  UUID_RE,
} from './helpers.ts';

const BROADCAST = `/4/broadcasts/apps/${TOPIC}`;
const UPDATE = '{"aps":{"event":"update","timestamp":1767226800,"content-state":{"home":1,"away":0}}}';

describe('broadcast push (provider port)', () => {
  let f: SimFixture;
  let s: ClientHttp2Session;
  let auth: { authorization: string };
  let stored: string;
  let noStore: string;
  before(async () => {
    f = await startFixture();
    auth = { authorization: f.bearer };
  });
  beforeEach(async () => {
    await f.control('DELETE', '/channels');
    await f.control('DELETE', '/faults');
    [stored] = (
      await f.control('POST', '/channels', { bundleId: TOPIC, messageStoragePolicy: 1 })
    ).body.channelIds;
    [noStore] = (
      await f.control('POST', '/channels', { bundleId: TOPIC, messageStoragePolicy: 0 })
    ).body.channelIds;
    s = await f.connect();
  });
  after(() => f.close());

  /** A valid broadcast to the policy-0 channel; a header set to null is left out. */
  const broadcastOn = (
    session: ClientHttp2Session,
    headers: Record<string, string | null> = {},
    body: string | Buffer = UPDATE,
    path = BROADCAST,
  ) => {
    const all: Record<string, string | null> = {
      ...auth,
      'apns-channel-id': noStore,
      'apns-push-type': 'liveactivity',
      'apns-expiration': '0',
      'apns-priority': '10',
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) as Record<
      string,
      string
    >;
    return request(session, 'POST', path, sent, body);
  };
  const broadcast = (
    headers: Record<string, string | null> = {},
    body: string | Buffer = UPDATE,
    path = BROADCAST,
  ) => broadcastOn(s, headers, body, path);
  const rejected = (res: Response, status: number, reason: string, name = reason) => {
    assert.equal(res.status, status, name);
    assert.deepEqual(res.body, { reason }, name);
    assert.equal(res.headers['content-type'], 'application/json', name);
    assert.match(String(res.headers['apns-request-id']), UUID_RE, `${name}: apns-request-id`);
    assert.equal(res.headers['apns-id'], undefined, `${name}: no apns-id`);
  };

  test('accepted: 200 with apns-request-id and apns-unique-id; recorded per channel byte for byte', async () => {
    const requestId = 'eabeae54-14a8-11e5-b60b-1697f925ec7b';
    const before = Date.now();
    const res = await broadcast({ 'apns-request-id': requestId });
    assert.equal(res.status, 200);
    assert.equal(res.body, undefined);
    assert.equal(res.headers['apns-request-id'], requestId);
    assert.match(String(res.headers['apns-unique-id']), UUID_RE);
    const second = '{"aps":{"event":"end","timestamp":1767232000,"dismissal-date":1767235600}}';
    const expiry = String(Math.floor(Date.now() / 1000) + 3600);
    const res2 = await broadcast(
      { 'apns-channel-id': stored, 'apns-expiration': expiry, 'apns-priority': '5' },
      second,
    );
    assert.equal(res2.status, 200, 'a stored-message channel takes a non-zero expiration');
    assert.match(String(res2.headers['apns-request-id']), UUID_RE, 'generated request id');

    const [b, ...rest] = (await f.control('GET', `/broadcasts?channelId=${encodeURIComponent(noStore)}`))
      .body;
    assert.equal(rest.length, 0);
    assert.equal(b.body, UPDATE);
    assert.deepEqual(b.payload, JSON.parse(UPDATE));
    assert.equal(b.requestId, requestId);
    assert.equal(b.uniqueId, res.headers['apns-unique-id']);
    assert.equal(b.channelId, noStore);
    assert.deepEqual(b.headers, {
      'apns-request-id': requestId,
      'apns-channel-id': noStore,
      'apns-push-type': 'liveactivity',
      'apns-priority': '10',
      'apns-expiration': '0',
    });
    assert.ok(b.receivedAt >= before && b.receivedAt <= Date.now());
    const app = (await f.control('GET', `/broadcasts?bundleId=${TOPIC}`)).body;
    assert.deepEqual(
      app.map((x: { channelId: string; body: string }) => [x.channelId, x.body]),
      [
        [noStore, UPDATE],
        [stored, second],
      ],
    );
    assert.equal(app[1].headers['apns-expiration'], expiry);
    const channels = (await f.control('GET', `/channels?bundleId=${TOPIC}`)).body;
    assert.deepEqual(
      channels.map((c: { broadcasts: number }) => c.broadcasts),
      [1, 1],
    );
    const stats = (await f.control('GET', '/stats')).body;
    assert.deepEqual(stats.broadcasts, { requests: 2, accepted: 2, rejected: {} });
    assert.equal(stats.requests, 0, 'broadcasts are not counted as device pushes');
    assert.equal((await f.control('GET', '/broadcasts?channelId=bm9uZQ==')).status, 404);
  });

  test('a non-zero expiration on a No Message Stored channel is BadExpirationDate', async () => {
    const expiry = String(Math.floor(Date.now() / 1000) + 60);
    rejected(await broadcast({ 'apns-expiration': expiry }), 400, 'BadExpirationDate');
    const recorded = (await f.control('GET', `/broadcasts?channelId=${encodeURIComponent(noStore)}`)).body;
    assert.deepEqual(recorded, [], 'rejected broadcasts are not recorded');
  });

  test('body limit is 5120 bytes', async () => {
    const pad = (n: number) => `{"aps":{"event":"update"},"p":"${'x'.repeat(n - 33)}"}`;
    assert.equal(Buffer.byteLength(pad(5120)), 5120);
    assert.equal((await broadcast({}, pad(5120))).status, 200);
    rejected(await broadcast({}, pad(5121)), 413, 'PayloadTooLarge');
  });

  test('missing channel id, unknown and deleted channels, another app’s channel', async () => {
    rejected(await broadcast({ 'apns-channel-id': null }), 400, 'MissingChannelId');
    rejected(await broadcast({ 'apns-channel-id': '' }), 400, 'MissingChannelId', 'empty');
    const deleted = noStore;
    const c = await f.connectChannels();
    const del = await request(c, 'DELETE', `/1/apps/${TOPIC}/channels`, {
      ...auth,
      'apns-channel-id': deleted,
    });
    assert.equal(del.status, 204);
    rejected(await broadcast({ 'apns-channel-id': deleted }), 400, 'ChannelNotRegistered', 'deleted');
    rejected(
      await broadcast({ 'apns-channel-id': Buffer.from('never created').toString('base64') }),
      400,
      'ChannelNotRegistered',
      'unknown',
    );
    const [other] = (await f.control('POST', '/channels', { bundleId: 'com.example.other' })).body.channelIds;
    rejected(await broadcast({ 'apns-channel-id': other }), 400, 'ChannelNotRegistered', 'other app');
  });

  test('every broadcast request reason', async () => {
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['bad apns-request-id', () => broadcast({ 'apns-request-id': 'x' }), 400, 'BadMessageId'],
      ['bad apns-id', () => broadcast({ 'apns-id': 'x' }), 400, 'BadMessageId'],
      ['GET', () => request(s, 'GET', BROADCAST, auth), 405, 'MethodNotAllowed'],
      ['no bundle id', () => broadcast({}, UPDATE, '/4/broadcasts/apps/'), 404, 'BadPath'],
      ['extra segment', () => broadcast({}, UPDATE, `${BROADCAST}/x`), 404, 'BadPath'],
      ['other /4 path', () => broadcast({}, UPDATE, '/4/broadcasts/x'), 404, 'BadPath'],
      [
        'push-type suffix',
        () => broadcast({}, UPDATE, `${BROADCAST}.push-type.liveactivity`),
        400,
        'TopicDisallowed',
      ],
      ['no push type', () => broadcast({ 'apns-push-type': null }), 400, 'MissingPushType'],
      ['alert push type', () => broadcast({ 'apns-push-type': 'alert' }), 400, 'InvalidPushType'],
      ['bad channel id', () => broadcast({ 'apns-channel-id': '%%%' }), 400, 'BadChannelId'],
      ['priority 7', () => broadcast({ 'apns-priority': '7' }), 400, 'BadPriority'],
      ['no priority', () => broadcast({ 'apns-priority': null }), 400, 'BadPriority'],
      ['expiration not a number', () => broadcast({ 'apns-expiration': 'soon' }), 400, 'BadExpirationDate'],
      ['no expiration', () => broadcast({ 'apns-expiration': null }), 400, 'BadExpirationDate'],
      ['empty body', () => broadcast({}, ''), 400, 'PayloadEmpty'],
      ['body not JSON', () => broadcast({}, '{"aps":'), 400, 'BadRequestPayload'],
      ['body a JSON string', () => broadcast({}, '"hi"'), 400, 'BadRequestPayload'],
    ];
    for (const [name, run, status, reason] of cases) rejected(await run(), status, reason, name);
    for (const spelling of ['LiveActivity', 'Liveactivity']) {
      assert.equal((await broadcast({ 'apns-push-type': spelling })).status, 200, spelling);
    }
    for (const priority of ['5', '1']) {
      assert.equal((await broadcast({ 'apns-priority': priority })).status, 200, priority);
    }
    assert.equal(
      (await broadcast({ 'apns-topic': `${TOPIC}.push-type.liveactivity` })).status,
      200,
      'apns-topic ignored',
    );
    await f.control('POST', '/broadcast-capability', { bundleId: TOPIC, enabled: false });
    rejected(await broadcast(), 400, 'FeatureNotEnabled');
  });

  test('authentication: token failures and certificates', async () => {
    const bare = await f.connect();
    const go = (session: ClientHttp2Session, headers: Record<string, string>) =>
      broadcastOn(session, { authorization: null, ...headers });
    rejected(await go(bare, {}), 403, 'MissingProviderToken');
    rejected(await go(bare, { authorization: 'bearer x.y.z' }), 403, 'InvalidProviderToken');
    const stale = jwt(f.key, { iat: Math.floor(Date.now() / 1000) - 3700 });
    rejected(await go(bare, { authorization: `bearer ${stale}` }), 403, 'ExpiredProviderToken');
    const topicKey = makeKey();
    await f.control('POST', '/keys', { ...topicKey, privateKey: undefined, topics: ['com.example.other'] });
    rejected(await go(await f.connect(), { authorization: `bearer ${jwt(topicKey)}` }), 403, 'TopicMismatch');

    const cert = async (body: Record<string, unknown>) =>
      (await f.control('POST', '/client-certs', body)).body as { certPem: string; keyPem: string };
    assert.equal((await go(await f.connect(await cert({ topics: [TOPIC] })), {})).status, 200, 'certificate');
    rejected(
      await go(await f.connect(await cert({ topics: ['com.example.other'] })), {}),
      403,
      'TopicMismatch',
    );
    rejected(
      await go(await f.connect(await cert({ topics: [TOPIC], environment: 'production' })), {}),
      403,
      'BadCertificateEnvironment',
    );
    rejected(
      await go(await f.connect(await cert({ topics: [TOPIC], expired: true })), {}),
      403,
      'BadCertificate',
    );
  });

  test('faults: target broadcast (optionally one channel), leaving device pushes alone, and target all', async () => {
    await f.control('POST', '/faults', { target: 'broadcast', reason: 'TooManyRequests', channelId: stored });
    assert.equal((await broadcast()).status, 200, 'another channel');
    rejected(await broadcast({ 'apns-channel-id': stored }), 429, 'TooManyRequests');
    assert.equal((await send(s, randomToken(), auth)).status, 200, 'device pushes unaffected');
    await f.control('DELETE', '/faults');

    await f.control('POST', '/faults', { status: 500, reason: 'InternalServerError' });
    assert.equal((await broadcast()).status, 200, 'a default fault targets device pushes only');
    await f.control('DELETE', '/faults');

    await f.control('POST', '/faults', { target: 'all', reason: 'Shutdown', count: 2 });
    rejected(await broadcast(), 503, 'Shutdown');
    assert.deepEqual((await send(s, randomToken(), auth)).body, { reason: 'Shutdown' });
    assert.equal((await broadcast()).status, 200, 'count used up');

    await f.control('POST', '/faults', { target: 'broadcast', reset: 'stream', count: 1 });
    await assert.rejects(broadcast());
    await f.control('POST', '/faults', { target: 'broadcast', latencyMs: 100, count: 1 });
    const started = performance.now();
    assert.equal((await broadcast()).status, 200);
    assert.ok(performance.now() - started >= 90);
    const recorded = (await f.control('GET', `/broadcasts?channelId=${encodeURIComponent(noStore)}`)).body;
    assert.equal(recorded.length, 4, 'faulted broadcasts are not recorded');
  });

  test('every §F.4 reason can be injected on both APIs with its documented status', async () => {
    const c = await f.connectChannels();
    for (const [reason, status] of Object.entries(broadcastReasonStatus)) {
      for (const target of ['broadcast', 'channels'] as const) {
        await f.control('POST', '/faults', { target, reason, count: 1 });
        const res =
          target === 'broadcast'
            ? await broadcast()
            : await request(c, 'GET', `/1/apps/${TOPIC}/all-channels`, auth);
        rejected(res, status, reason, `${target} ${reason}`);
      }
    }
    // The token rule itself, on the provider port: a new token within 20 minutes.
    assert.equal((await broadcast()).status, 200);
    const fresh = jwt(f.key, { iat: Math.floor(Date.now() / 1000) - 2 });
    rejected(await broadcast({ authorization: `bearer ${fresh}` }), 429, 'TooManyProviderTokenUpdates');
  });

  test('goawayAfter with target channels acts on the channel port only', async () => {
    await f.control('POST', '/faults', { target: 'channels', goawayAfter: 1, reason: 'Shutdown', count: 1 });
    const c = await f.connectChannels();
    const goaway = new Promise<string>((resolve) =>
      c.once('goaway', (_code: number, _last: number, data: Buffer) => resolve(data.toString('utf8'))),
    );
    assert.equal((await request(c, 'GET', `/1/apps/${TOPIC}/all-channels`, auth)).status, 200);
    assert.deepEqual(JSON.parse(await goaway), { reason: 'Shutdown' });
    assert.equal((await broadcast()).status, 200, 'the provider connection is untouched');
    assert.equal((await broadcast()).status, 200);
  });

  test('POST /reset forgets channels and broadcasts', async () => {
    assert.equal((await broadcast()).status, 200);
    await f.control('POST', '/reset');
    await f.control('POST', '/keys', { ...f.key, privateKey: undefined });
    assert.deepEqual((await f.control('GET', '/channels')).body, []);
    rejected(await broadcast(), 400, 'ChannelNotRegistered');
  });
});
