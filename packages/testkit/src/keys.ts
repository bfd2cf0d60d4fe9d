import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface ProviderKey {
  keyId: string;
  teamId: string;
  /** PKCS#8 PEM, the format of Apple's .p8 files. */
  privateKeyPem: string;
  publicKeyPem: string;
}

function randomId(): string {
  return randomBytes(5).toString('hex').toUpperCase();
}

/** A fresh ES256 (P-256) provider key, like the .p8 Apple issues; generated, never committed. */
export function generateProviderKey(): ProviderKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    keyId: randomId(),
    teamId: randomId(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function randomDeviceTokens(count: number): string[] {
  return Array.from({ length: count }, () => randomBytes(32).toString('hex'));
}
