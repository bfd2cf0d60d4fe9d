import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jwt, makeKey, randomToken, type SimFixture, send, startFixture, TOPIC } from './helpers.ts';

describe('token authentication (JWT)', () => {
  let f: SimFixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  const reasonOf = async (authorization: string | undefined, topic = TOPIC) => {
    const s = await f.connect();
    const headers: Record<string, string> = { 'apns-topic': topic };
    if (authorization !== undefined) headers['authorization'] = authorization;
    const res = await send(s, randomToken(), headers);
    s.close();
    return res.status === 200 ? 'ok' : `${res.status} ${res.body.reason}`;
  };

  test('raw R‖S and DER signatures are both accepted', async () => {
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { encoding: 'raw' })}`), 'ok');
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { encoding: 'der' })}`), 'ok');
  });

  test('missing, malformed, unknown, forged, wrong alg, expired', async () => {
    assert.equal(await reasonOf(undefined), '403 MissingProviderToken');
    assert.equal(await reasonOf('basic abc'), '403 MissingProviderToken');
    assert.equal(await reasonOf('bearer not.a.jwt'), '403 InvalidProviderToken');
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { kid: 'UNKNOWNKID' })}`), '403 InvalidProviderToken');
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { iss: 'OTHERTEAM1' })}`), '403 InvalidProviderToken');
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { alg: 'HS256' })}`), '403 InvalidProviderToken');
    const impostor = makeKey(f.key.keyId, f.key.teamId);
    assert.equal(await reasonOf(`bearer ${jwt(impostor)}`), '403 InvalidProviderToken');
    const old = Math.floor(Date.now() / 1000) - 3601;
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { iat: old })}`), '403 ExpiredProviderToken');
    const fresh = Math.floor(Date.now() / 1000) - 3500;
    assert.equal(await reasonOf(`bearer ${jwt(f.key, { iat: fresh })}`), 'ok');
  });

  test('a new token on the same connection within 20 minutes: TooManyProviderTokenUpdates', async () => {
    const s = await f.connect();
    const now = Math.floor(Date.now() / 1000);
    const first = `bearer ${jwt(f.key, { iat: now - 10 })}`;
    const second = `bearer ${jwt(f.key, { iat: now })}`;
    assert.equal((await send(s, randomToken(), { authorization: first })).status, 200);
    assert.equal((await send(s, randomToken(), { authorization: first })).status, 200);
    const res = await send(s, randomToken(), { authorization: second });
    assert.equal(res.status, 429);
    assert.deepEqual(res.body, { reason: 'TooManyProviderTokenUpdates' });
    // The connection keeps the token it had; a new connection takes the new one.
    assert.equal((await send(s, randomToken(), { authorization: first })).status, 200);
    assert.equal(await reasonOf(second), 'ok');
  });

  test('a revoked key is refused at once, on a connection that already used it too; accepts are counted per key', async () => {
    const revoked = makeKey();
    await f.control('POST', '/keys', {
      keyId: revoked.keyId,
      teamId: revoked.teamId,
      publicKeyPem: revoked.publicKeyPem,
    });
    const before = ((await f.control('GET', '/stats')).body as { acceptedByKey: Record<string, number> })
      .acceptedByKey;
    const s = await f.connect();
    const authorization = `bearer ${jwt(revoked)}`;
    assert.equal((await send(s, randomToken(), { authorization })).status, 200);
    const stats = (await f.control('GET', '/stats')).body as { acceptedByKey: Record<string, number> };
    assert.equal(stats.acceptedByKey[revoked.keyId], (before[revoked.keyId] ?? 0) + 1);
    assert.equal((await f.control('DELETE', `/keys/${revoked.keyId}`)).status, 200);
    const res = await send(s, randomToken(), { authorization });
    s.close();
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { reason: 'InvalidProviderToken' });
    assert.equal(await reasonOf(authorization), '403 InvalidProviderToken');
    assert.equal((await f.control('DELETE', `/keys/${revoked.keyId}`)).status, 404);
  });

  test('one team per connection; topic keys; key environment', async () => {
    const other = makeKey();
    await f.control('POST', '/keys', {
      keyId: other.keyId,
      teamId: other.teamId,
      publicKeyPem: other.publicKeyPem,
    });
    const s = await f.connect();
    assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
    const res = await send(s, randomToken(), { authorization: `bearer ${jwt(other)}` });
    assert.deepEqual([res.status, res.body], [403, { reason: 'InvalidProviderToken' }]);

    const topicKey = makeKey(undefined, f.key.teamId);
    await f.control('POST', '/keys', {
      keyId: topicKey.keyId,
      teamId: topicKey.teamId,
      publicKeyPem: topicKey.publicKeyPem,
      topics: ['com.example.other'],
    });
    assert.equal(await reasonOf(`bearer ${jwt(topicKey)}`), '403 InvalidProviderToken');
    assert.equal(await reasonOf(`bearer ${jwt(topicKey)}`, 'com.example.other'), 'ok');

    const s2 = await f.connect();
    assert.equal((await send(s2, randomToken(), { authorization: f.bearer })).status, 200);
    const unrelated = await send(s2, randomToken(), {
      authorization: `bearer ${jwt(topicKey)}`,
      'apns-topic': 'com.example.other',
    });
    assert.deepEqual(unrelated.body, { reason: 'UnrelatedKeyIdInToken' });

    const prodKey = makeKey();
    await f.control('POST', '/keys', {
      keyId: prodKey.keyId,
      teamId: prodKey.teamId,
      publicKeyPem: prodKey.publicKeyPem,
      environment: 'production',
    });
    assert.equal(await reasonOf(`bearer ${jwt(prodKey)}`), '403 BadEnvironmentKeyIdInToken');
  });
});
