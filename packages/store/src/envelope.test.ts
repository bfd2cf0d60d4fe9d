import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { PushfleetError } from '@pushfleet/core';
import {
  keyEncryptionKeyId,
  loadKeyEncryptionKey,
  openEnvelope,
  parseKeyEncryptionKey,
  sealEnvelope,
} from './envelope.ts';

test('seal and open: AES-256-GCM under a data key wrapped by the KEK, bound to its aad', () => {
  const kek = randomBytes(32);
  const secret = Buffer.from(
    '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n',
  );
  const envelope = sealEnvelope(kek, secret, 'registry/credentials/shop');
  const text = JSON.stringify(envelope);
  assert.ok(!text.includes('PRIVATE KEY') && !text.includes('MIGHAgEA'), 'no plaintext in the envelope');
  assert.equal(envelope.kid, keyEncryptionKeyId(kek));
  assert.deepEqual(openEnvelope(kek, envelope, 'registry/credentials/shop'), secret);
  // Two seals of the same text differ (fresh data key and iv each time).
  assert.notEqual(
    JSON.stringify(sealEnvelope(kek, secret, 'a')),
    JSON.stringify(sealEnvelope(kek, secret, 'a')),
  );

  assert.throws(() => openEnvelope(kek, envelope, 'registry/credentials/other'), /cannot be decrypted/);
  assert.throws(() => openEnvelope(randomBytes(32), envelope, 'registry/credentials/shop'), /another key/);
  const flipped = Buffer.from(envelope.ct, 'base64');
  flipped[0] = flipped[0]! ^ 1;
  assert.throws(
    () => openEnvelope(kek, { ...envelope, ct: flipped.toString('base64') }, 'registry/credentials/shop'),
    (err: Error) => /cannot be decrypted/.test(err.message) && !err.message.includes(kek.toString('hex')),
  );
});

test('the KEK: 32 bytes as base64 or hex, from a file or a named environment variable', () => {
  const kek = randomBytes(32);
  assert.deepEqual(parseKeyEncryptionKey(kek.toString('base64')), kek);
  assert.deepEqual(parseKeyEncryptionKey(`${kek.toString('hex')}\n`), kek);
  assert.deepEqual(parseKeyEncryptionKey(kek.toString('base64url')), kek);
  for (const bad of ['', 'short', randomBytes(16).toString('base64'), randomBytes(33).toString('hex')]) {
    assert.throws(
      () => parseKeyEncryptionKey(bad),
      (err: PushfleetError) => err.code === 'PF_ERR_CONFIG' && err.field === 'appRegistry.keyEncryptionKey',
    );
  }
  assert.equal(loadKeyEncryptionKey(undefined, {}), undefined);
  assert.deepEqual(loadKeyEncryptionKey({ env: 'PF_KEK' }, { PF_KEK: kek.toString('base64') }), kek);
  assert.deepEqual(
    loadKeyEncryptionKey({ file: '/run/secrets/kek' }, {}, (path) => {
      assert.equal(path, '/run/secrets/kek');
      return kek.toString('hex');
    }),
    kek,
  );
  assert.throws(
    () => loadKeyEncryptionKey({ env: 'PF_KEK' }, {}),
    (err: PushfleetError) =>
      err.code === 'PF_ERR_CONFIG' &&
      err.field === 'appRegistry.keyEncryptionKey.env' &&
      /PF_KEK is not set/.test(err.message),
  );
  assert.throws(
    () => loadKeyEncryptionKey({ file: '/nonexistent/kek' }, {}),
    (err: PushfleetError) => err.field === 'appRegistry.keyEncryptionKey.file' && /ENOENT/.test(err.message),
  );
  const wrong = 'x'.repeat(50);
  assert.throws(
    () => loadKeyEncryptionKey({ env: 'K' }, { K: wrong }),
    (err: PushfleetError) => !err.message.includes(wrong),
  );
});
