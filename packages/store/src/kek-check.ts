import { PushfleetError } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { type Envelope, keyEncryptionKeyField, openEnvelope, sealEnvelope } from './envelope.ts';
import { registryKeys } from './registry-keys.ts';

const checkText = 'pushfleet app registry key-encryption key';
const checkAad = 'kek-check';

/**
 * Start-up check of the key-encryption key against the registry in Redis. The first process
 * with a KEK stores a known text sealed under it; every later process must open it. Refuses
 * with PF_ERR_CONFIG naming `appRegistry.keyEncryptionKey`: a KEK that is not the one in use,
 * or none while the registry already holds sealed data. No KEK and nothing sealed is fine
 * (storing credentials is then refused with PF_ERR_ENCRYPTION_KEY_MISSING).
 */
export async function checkKeyEncryptionKey(
  redis: Redis,
  prefix: string,
  kek: Buffer | undefined,
): Promise<void> {
  const key = registryKeys.kekCheck(prefix);
  if (!kek) {
    if ((await redis.exists(key)) === 1) {
      throw new PushfleetError(
        'PF_ERR_CONFIG',
        `${keyEncryptionKeyField} is not set, but the app registry holds credentials sealed with one: configure the same key on every process`,
        { field: keyEncryptionKeyField },
      );
    }
    return;
  }
  await redis.set(key, JSON.stringify(sealEnvelope(kek, Buffer.from(checkText), checkAad)), 'NX');
  const stored = await redis.get(key);
  let opened = '';
  try {
    opened = stored ? openEnvelope(kek, JSON.parse(stored) as Envelope, checkAad).toString() : '';
  } catch {
    // Reported below, in the config's terms.
  }
  if (opened !== checkText) {
    throw new PushfleetError(
      'PF_ERR_CONFIG',
      `${keyEncryptionKeyField} is not the key the app registry's credentials were sealed with`,
      { field: keyEncryptionKeyField },
    );
  }
}
