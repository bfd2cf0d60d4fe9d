import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { credentialNotAfter } from '@pushfleet/apns';
import { generateProviderKey } from '@pushfleet/testkit';
import { certificateUpload, p12Upload } from '../registry/helpers.ts';

/** What the expiry metric reads: a certificate's notAfter in every form, past ones included. */
test('credentialNotAfter: PEM pair, .p12, expired certificate, .p8 key, unreadable material', () => {
  const pem = certificateUpload(['com.example.expiry']);
  const validTo = (certPem: string) => new Date(new X509Certificate(certPem).validTo).getTime();
  assert.equal(credentialNotAfter({ ...pem }), validTo(pem.certPem));

  const p12 = p12Upload(['com.example.expiry']);
  assert.equal(
    credentialNotAfter({
      type: 'certificate',
      pfx: Buffer.from(p12.upload.pfx, 'base64'),
      passphrase: p12.upload.passphrase,
    }),
    validTo(p12.certPem),
  );

  // An expired certificate still has its date: the alert must fire, not go quiet.
  const expired = certificateUpload(['com.example.expiry'], { expired: true });
  const past = credentialNotAfter({ ...expired });
  assert.equal(past, validTo(expired.certPem));
  assert.ok(past! < Date.now());

  const key = generateProviderKey();
  assert.equal(
    credentialNotAfter({ type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId }),
    null,
  );
  assert.equal(
    credentialNotAfter({ type: 'certificate', certPem: 'not a certificate', keyPem: 'nor a key' }),
    undefined,
  );
  assert.equal(
    credentialNotAfter({
      type: 'certificate',
      pfx: Buffer.from(p12.upload.pfx, 'base64'),
      passphrase: 'wrong',
    }),
    undefined,
  );
});
