import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  jwt,
  makeKey,
  post,
  type Response,
  randomToken,
  type SimFixture,
  send,
  startFixture,
  TOPIC,
} from './helpers.ts';

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('provider API, validating mode', () => {
  let f: SimFixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('200 with echoed apns-id, apns-unique-id in sandbox, delivery recorded', async () => {
    const s = await f.connect();
    const token = randomToken();
    const id = 'eabeae54-14a8-11e5-b60b-1697f925ec7b';
    const res = await send(s, token, { authorization: f.bearer, 'apns-id': id, 'apns-priority': '10' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['apns-id'], id);
    assert.match(String(res.headers['apns-unique-id']), uuidRe);
    assert.equal(res.body, undefined);
    const d = await f.control('GET', `/deliveries?token=${token}`);
    assert.equal(d.body.length, 1);
    assert.deepEqual(d.body[0].payload, { aps: { alert: 'hi' } });
    assert.equal(d.body[0].headers['apns-topic'], TOPIC);
    assert.equal(d.body[0].headers['apns-priority'], '10');
    assert.equal(d.body[0].apnsId, id);
  });

  test('apns-id generated when absent', async () => {
    const s = await f.connect();
    const res = await send(s, randomToken(), { authorization: f.bearer });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['apns-id']), uuidRe);
  });

  test('each documented request error', async () => {
    const s = await f.connect();
    const auth = { authorization: f.bearer };
    const token = randomToken();
    const cases: Array<[string, () => Promise<Response>, number, string]> = [
      ['bad apns-id', () => send(s, token, { ...auth, 'apns-id': 'nope' }), 400, 'BadMessageId'],
      [
        'GET',
        () => post(s, `/3/device/${token}`, { ...auth, 'apns-topic': TOPIC }, '', 'GET'),
        405,
        'MethodNotAllowed',
      ],
      ['bad path', () => post(s, '/3/devices/x', { ...auth, 'apns-topic': TOPIC }), 404, 'BadPath'],
      ['no token', () => post(s, '/3/device/', { ...auth, 'apns-topic': TOPIC }), 400, 'MissingDeviceToken'],
      ['no topic', () => post(s, `/3/device/${token}`, { ...auth }), 400, 'MissingTopic'],
      [
        'collapse id 65 bytes',
        () => send(s, token, { ...auth, 'apns-collapse-id': 'x'.repeat(65) }),
        400,
        'BadCollapseId',
      ],
      ['priority 7', () => send(s, token, { ...auth, 'apns-priority': '7' }), 400, 'BadPriority'],
      [
        'background priority 10',
        () => send(s, token, { ...auth, 'apns-push-type': 'background', 'apns-priority': '10' }),
        400,
        'BadPriority',
      ],
      ['push type', () => send(s, token, { ...auth, 'apns-push-type': 'banner' }), 400, 'InvalidPushType'],
      [
        'expiration',
        () => send(s, token, { ...auth, 'apns-expiration': 'tomorrow' }),
        400,
        'BadExpirationDate',
      ],
      [
        'duplicate header',
        () => send(s, token, { ...auth, 'apns-topic': [TOPIC, TOPIC] }),
        400,
        'DuplicateHeaders',
      ],
      ['voip without suffix', () => send(s, token, { ...auth, 'apns-push-type': 'voip' }), 400, 'BadTopic'],
      [
        'alert to voip topic',
        () => send(s, token, { ...auth, 'apns-topic': `${TOPIC}.voip` }),
        400,
        'BadTopic',
      ],
      ['odd token', () => send(s, `${token}a`, auth), 400, 'BadDeviceToken'],
      ['non-hex token', () => send(s, 'z'.repeat(64), auth), 400, 'BadDeviceToken'],
      ['short token', () => send(s, token.slice(0, 32), auth), 400, 'BadDeviceToken'],
      ['empty body', () => send(s, token, auth, ''), 400, 'PayloadEmpty'],
      ['4097 bytes', () => send(s, token, auth, Buffer.alloc(4097, 0x20)), 413, 'PayloadTooLarge'],
      [
        'voip 5121 bytes',
        () =>
          send(
            s,
            token,
            { ...auth, 'apns-push-type': 'voip', 'apns-topic': `${TOPIC}.voip` },
            Buffer.alloc(5121, 0x20),
          ),
        413,
        'PayloadTooLarge',
      ],
    ];
    for (const [name, run, status, reason] of cases) {
      const res = await run();
      assert.equal(res.status, status, name);
      assert.deepEqual(res.body, { reason }, name);
      assert.equal(res.headers['content-type'], 'application/json', name);
      assert.match(String(res.headers['apns-id']), uuidRe, `${name}: apns-id on errors`);
    }
  });

  test('payload limits by push type and topic suffixes accepted', async () => {
    const s = await f.connect();
    const auth = { authorization: f.bearer };
    const token = randomToken();
    assert.equal((await send(s, token, auth, Buffer.alloc(4096, 0x20))).status, 200);
    const voip = { ...auth, 'apns-push-type': 'voip', 'apns-topic': `${TOPIC}.voip` };
    assert.equal((await send(s, token, voip, Buffer.alloc(5120, 0x20))).status, 200);
    const suffixes: Record<string, string> = {
      complication: '.complication',
      fileprovider: '.pushkit.fileprovider',
      location: '.location-query',
      liveactivity: '.push-type.liveactivity',
      pushtotalk: '.voip-ptt',
      widgets: '.push-type.widgets',
      controls: '.push-type.controls',
    };
    for (const [type, suffix] of Object.entries(suffixes)) {
      const res = await send(s, token, { ...auth, 'apns-push-type': type, 'apns-topic': TOPIC + suffix });
      assert.equal(res.status, 200, type);
    }
    const bg = await send(s, token, { ...auth, 'apns-push-type': 'background', 'apns-priority': '5' });
    assert.equal(bg.status, 200);
  });

  test('devices: environment, topic, 410 with millisecond timestamp', async () => {
    const s = await f.connect();
    const auth = { authorization: f.bearer };
    const prodToken = randomToken();
    await f.control('POST', '/devices', { token: prodToken, topic: TOPIC, environment: 'production' });
    assert.deepEqual((await send(s, prodToken, auth)).body, { reason: 'BadDeviceToken' });

    const other = randomToken();
    await f.control('POST', '/devices', { token: other, topic: 'com.example.other' });
    assert.deepEqual((await send(s, other, auth)).body, { reason: 'DeviceTokenNotForTopic' });

    const gone = randomToken();
    await f.control('POST', '/devices', { token: gone, topic: TOPIC });
    assert.equal((await send(s, gone, auth)).status, 200);
    await f.control('POST', '/devices/unregister', { token: gone, topic: TOPIC, timestamp: 1700000000123 });
    const res = await send(s, gone, auth);
    assert.equal(res.status, 410);
    assert.deepEqual(res.body, { reason: 'Unregistered', timestamp: 1700000000123 });

    const expired = randomToken();
    const before = Date.now();
    await f.control('POST', '/devices/unregister', { token: expired, topic: TOPIC, reason: 'ExpiredToken' });
    const res2 = await send(s, expired, auth);
    assert.equal(res2.status, 410);
    assert.equal(res2.body.reason, 'ExpiredToken');
    assert.ok(res2.body.timestamp >= before && res2.body.timestamp <= Date.now());
  });

  test('stats count requests, accepted and rejected by reason', async () => {
    await f.control('POST', '/reset');
    const key = makeKey();
    await f.control('POST', '/keys', {
      keyId: key.keyId,
      teamId: key.teamId,
      publicKeyPem: key.publicKeyPem,
    });
    const s = await f.connect();
    const auth = { authorization: `bearer ${jwt(key)}` };
    await send(s, randomToken(), auth);
    await send(s, randomToken(), auth);
    await send(s, 'abc', auth);
    const stats = await f.control('GET', '/stats');
    assert.equal(stats.body.requests, 3);
    assert.equal(stats.body.accepted, 2);
    assert.deepEqual(stats.body.rejected, { BadDeviceToken: 1 });
    assert.equal(stats.body.connections, 1);
  });
});
