import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { parseProviderToken, verifyEs256 } from './jwt.ts';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function token(header: unknown, claims: unknown, dsaEncoding: 'der' | 'ieee-p1363' = 'ieee-p1363'): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding }).toString('base64url')}`;
}

test('parses and verifies raw and DER ES256 signatures', () => {
  for (const enc of ['ieee-p1363', 'der'] as const) {
    const parsed = parseProviderToken(token({ alg: 'ES256', kid: 'K' }, { iss: 'T', iat: 1 }, enc));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.claims, { kid: 'K', iss: 'T', iat: 1 });
    assert.equal(verifyEs256(parsed.signingInput, parsed.signature, publicKey), true);
    const tampered = Buffer.from(parsed.signingInput);
    tampered[0] = tampered[0]! ^ 1;
    assert.equal(verifyEs256(tampered, parsed.signature, publicKey), false);
  }
});

test('rejects wrong shapes', () => {
  const bad = [
    'a.b',
    token({ alg: 'HS256', kid: 'K' }, { iss: 'T', iat: 1 }),
    token({ alg: 'ES256' }, { iss: 'T', iat: 1 }),
    token({ alg: 'ES256', kid: 'K' }, { iat: 1 }),
    token({ alg: 'ES256', kid: 'K' }, { iss: 'T', iat: '1' }),
    `${b64({ alg: 'ES256', kid: 'K' })}.${b64({ iss: 'T', iat: 1 })}.`,
    `${b64({ alg: 'none', kid: 'K' })}.${b64({ iss: 'T', iat: 1 })}.`,
  ];
  for (const jwt of bad) assert.equal(parseProviderToken(jwt).ok, false, jwt);
});
