import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, randomToken, type SimFixture, send, startFixture, TOPIC } from './helpers.ts';

describe('certificate authentication (mTLS)', () => {
  let f: SimFixture;
  before(async () => {
    f = await startFixture({ maxConcurrentStreams: 321, tokenInitialStreams: 1 });
  });
  after(() => f.close());

  const cert = async (body: Record<string, unknown>) => {
    const res = await f.control('POST', '/client-certs', body);
    assert.equal(res.status, 201);
    return res.body as { certPem: string; keyPem: string };
  };

  test('topics come from the client certificate; authorization is ignored', async () => {
    const tls = await cert({
      topics: [TOPIC, `${TOPIC}.voip`, `${TOPIC}.complication`],
      environment: 'sandbox',
    });
    const s = await f.connect(tls);
    // Authenticated by the handshake: the full limit follows the initial SETTINGS without a request.
    await new Promise<void>((resolve) => {
      const check = () => s.remoteSettings.maxConcurrentStreams === 321 && resolve();
      s.on('remoteSettings', check);
      check();
    });
    assert.equal((await send(s, randomToken(), {})).status, 200);
    assert.equal((await send(s, randomToken(), { authorization: 'bearer garbage' })).status, 200);
    const voip = await send(s, randomToken(), { 'apns-push-type': 'voip', 'apns-topic': `${TOPIC}.voip` });
    assert.equal(voip.status, 200);
    const other = await send(s, randomToken(), { 'apns-topic': 'com.example.other' });
    assert.deepEqual([other.status, other.body], [400, { reason: 'BadTopic' }]);
    // Several topics: apns-topic may not be omitted.
    const none = await post(s, `/3/device/${randomToken()}`, {});
    assert.deepEqual(none.body, { reason: 'MissingTopic' });
  });

  test('a single-topic certificate lets apns-topic be omitted', async () => {
    const s = await f.connect(await cert({ topics: [TOPIC] }));
    const token = randomToken();
    assert.equal((await post(s, `/3/device/${token}`, {})).status, 200);
    const [d] = (await f.control('GET', `/deliveries?token=${token}`)).body;
    assert.equal(d.headers['apns-topic'], undefined);
  });

  test('BadCertificateEnvironment for a production-only certificate on sandbox', async () => {
    const s = await f.connect(await cert({ topics: [TOPIC], environment: 'production' }));
    const res = await send(s, randomToken(), {});
    assert.deepEqual([res.status, res.body], [403, { reason: 'BadCertificateEnvironment' }]);
  });

  test('BadCertificate for an untrusted or expired certificate', async () => {
    for (const flavour of [{ untrusted: true }, { expired: true }]) {
      const s = await f.connect(await cert({ topics: [TOPIC], ...flavour }));
      const res = await send(s, randomToken(), {});
      assert.deepEqual([res.status, res.body], [403, { reason: 'BadCertificate' }], JSON.stringify(flavour));
    }
  });
});
