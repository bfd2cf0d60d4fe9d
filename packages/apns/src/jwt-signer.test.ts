import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { test } from 'node:test';
import { JwtSigner, maxTokenAgeMs, minTokenAgeMs } from './jwt-signer.ts';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

function decode(authorization: string) {
  const [header, claims, signature] = authorization.replace('bearer ', '').split('.');
  return {
    header: JSON.parse(Buffer.from(header!, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(claims!, 'base64url').toString()),
    valid: verify(
      'sha256',
      Buffer.from(`${header}.${claims}`),
      {
        key: createPublicKey(privateKey),
        dsaEncoding: 'ieee-p1363',
      },
      Buffer.from(signature!, 'base64url'),
    ),
  };
}

test('signs ES256 with kid, iss and iat in seconds; the signature verifies', () => {
  let now = 1_700_000_000_500;
  const signer = new JwtSigner({
    key: privateKey,
    keyId: 'KEY1234567',
    teamId: 'TEAM123456',
    now: () => now,
  });
  const token = decode(signer.authorization());
  assert.deepEqual(token.header, { alg: 'ES256', kid: 'KEY1234567' });
  assert.deepEqual(token.claims, { iss: 'TEAM123456', iat: 1_700_000_000 });
  assert.equal(token.valid, true);
  now += 1000;
  assert.equal(decode(signer.authorization()).claims.iat, 1_700_000_000, 'reused, not re-signed');
});

test('refreshes between 20 and 60 minutes, never sooner, never later', () => {
  let now = 0;
  const signer = new JwtSigner({
    key: privateKey,
    keyId: 'K',
    teamId: 'T',
    now: () => now,
    refreshAfterMs: 5 * 60_000,
  });
  const first = signer.authorization();
  now = minTokenAgeMs - 1;
  assert.equal(signer.authorization(), first, 'a 5-minute request is clamped up to 20 minutes');
  now = minTokenAgeMs;
  assert.notEqual(signer.authorization(), first);
  const late = new JwtSigner({
    key: privateKey,
    keyId: 'K',
    teamId: 'T',
    now: () => now,
    refreshAfterMs: 3 * 3600_000,
  });
  const t0 = late.authorization();
  now += maxTokenAgeMs - 60_000;
  assert.notEqual(late.authorization(), t0, 'a 3-hour request is clamped below the 1-hour expiry');
});

test('after ExpiredProviderToken it re-signs only a token at least 20 minutes old', () => {
  let now = 0;
  const signer = new JwtSigner({ key: privateKey, keyId: 'K', teamId: 'T', now: () => now });
  const first = signer.authorization();
  now = 60_000;
  assert.equal(
    signer.refreshAfterExpired(),
    false,
    'a young token means clock skew: no TooManyProviderTokenUpdates',
  );
  assert.equal(signer.authorization(), first);
  now = minTokenAgeMs + 1;
  assert.equal(signer.refreshAfterExpired(), true);
  assert.notEqual(signer.authorization(), first);
  assert.equal(signer.generation, 2);
});

test('refuses keys that are not EC', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  assert.throws(() => new JwtSigner({ key: rsa, keyId: 'K', teamId: 'T' }), /EC P-256/);
});
