// Credentials made at run time for the admin API's and the app registry's tests (never committed): `.p8` keys, Apple-shaped
// push certificates from the simulator's CA (PEM pairs and .p12 bundles), and the secret parts of
// each, to check that no answer or log line ever carries them.
import { generateKeyPairSync } from 'node:crypto';
import { generateProviderKey, type ProviderKey } from '@pushfleet/testkit';
import forge from 'node-forge';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createClientCertificate,
} from '../../apns-sim/src/tls-material.ts';

let ca: CertificateAuthority | undefined;
const authority = () => (ca ??= createCertificateAuthority());

/** Base64 lines of a PEM's body: what must never show up in an answer or a log line. */
export const pemBodyLines = (pem: string) =>
  pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----'));

export function tokenUpload(key: ProviderKey = generateProviderKey()) {
  return { type: 'token' as const, keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId };
}

/** A PKCS#8 key that is not P-256 (RSA): Apple's .p8 keys are. */
export function rsaTokenUpload() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...tokenUpload(),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function certificateUpload(topics = ['com.example.news'], options: { expired?: boolean } = {}) {
  const made = createClientCertificate(authority(), { topics, ...options });
  return { type: 'certificate' as const, certPem: made.certPem, keyPem: made.keyPem };
}

/** A `.p12` (base64) with its passphrase, and the PEM pair inside it. */
export function p12Upload(topics = ['com.example.news'], passphrase = 'p12-passphrase-42') {
  const { certPem, keyPem } = certificateUpload(topics);
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(keyPem),
    [forge.pki.certificateFromPem(certPem)],
    passphrase,
    { algorithm: '3des' },
  );
  const pfx = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary').toString('base64');
  return { upload: { type: 'certificate' as const, pfx, passphrase }, certPem, keyPem };
}

/** Every secret string of the uploads given: key bodies, passphrases, chunks of .p12 base64. */
export function secretsOf(...uploads: Record<string, unknown>[]): string[] {
  const out: string[] = [];
  for (const upload of uploads) {
    for (const [name, value] of Object.entries(upload)) {
      if (typeof value !== 'string') continue;
      if (name === 'keyPem') out.push(...pemBodyLines(value));
      if (name === 'passphrase' || name === 'secret') out.push(value);
      if (name === 'pfx') for (let i = 0; i + 40 <= value.length; i += 400) out.push(value.slice(i, i + 40));
    }
  }
  return out;
}
