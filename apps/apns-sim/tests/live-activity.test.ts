import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomToken, type SimFixture, send, startFixture, TOPIC } from './helpers.ts';

const LIVE_TOPIC = `${TOPIC}.push-type.liveactivity`;
const START =
  '{"aps":{"event":"start","timestamp":1767225600,"attributes-type":"MatchAttributes","attributes":{"matchId":"m42"},' +
  '"content-state":{"home":0,"away":0},"alert":{"title":"Kick-off","body":"Reds vs Blues","sound":"default"},' +
  '"input-push-channel":"dHN0LWNoYW5uZWw="}}';
const END =
  '{"aps":{"event":"end","timestamp":1767232000,"content-state":{"home":2,"away":1},"dismissal-date":1767235600}}';

describe('Live Activity device pushes (apns-push-type liveactivity)', () => {
  let f: SimFixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  const live = { 'apns-push-type': 'liveactivity', 'apns-topic': LIVE_TOPIC };

  test('start and end bodies are recorded byte for byte with their headers', async () => {
    const s = await f.connect();
    const token = randomToken();
    assert.equal(
      (await send(s, token, { authorization: f.bearer, ...live, 'apns-priority': '10' }, START)).status,
      200,
    );
    assert.equal(
      (await send(s, token, { authorization: f.bearer, ...live, 'apns-priority': '5' }, END)).status,
      200,
    );
    const [start, end] = (await f.control('GET', `/deliveries?token=${token}`)).body;
    assert.equal(start.body, START);
    assert.equal(end.body, END);
    assert.deepEqual(start.payload, JSON.parse(START));
    assert.equal(start.headers['apns-topic'], LIVE_TOPIC);
    assert.equal(start.headers['apns-push-type'], 'liveactivity');
    assert.equal(end.headers['apns-priority'], '5');
  });

  test('the topic must end in .push-type.liveactivity (BadTopic otherwise)', async () => {
    const s = await f.connect();
    for (const topic of [TOPIC, `${TOPIC}.liveactivity`, `${TOPIC}push-type.liveactivity`, `${TOPIC}.voip`]) {
      const res = await send(
        s,
        randomToken(),
        { authorization: f.bearer, ...live, 'apns-topic': topic },
        START,
      );
      assert.deepEqual([res.status, res.body], [400, { reason: 'BadTopic' }], topic);
    }
  });

  test('token auth only: a certificate gets BadTopic even when it lists the topic', async () => {
    const { certPem, keyPem } = (
      await f.control('POST', '/client-certs', { topics: [TOPIC, LIVE_TOPIC, `${TOPIC}.location-query`] })
    ).body;
    const s = await f.connect({ certPem, keyPem });
    assert.equal((await send(s, randomToken(), {})).status, 200, 'the certificate works for alerts');
    const res = await send(s, randomToken(), live, START);
    assert.deepEqual([res.status, res.body], [400, { reason: 'BadTopic' }]);
    const location = await send(s, randomToken(), {
      'apns-push-type': 'location',
      'apns-topic': `${TOPIC}.location-query`,
    });
    assert.deepEqual(
      [location.status, location.body],
      [400, { reason: 'BadTopic' }],
      'location is token-only too',
    );
  });

  test('device payload limit stays 4096 for liveactivity (5120 is for broadcasts)', async () => {
    const s = await f.connect();
    const auth = { authorization: f.bearer, ...live };
    assert.equal((await send(s, randomToken(), auth, Buffer.alloc(4096, 0x20))).status, 200);
    const big = await send(s, randomToken(), auth, Buffer.alloc(4097, 0x20));
    assert.deepEqual([big.status, big.body], [413, { reason: 'PayloadTooLarge' }]);
  });
});
