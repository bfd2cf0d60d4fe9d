import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PushfleetError } from '@pushfleet/core';

/**
 * Data sealed at rest: AES-256-GCM under a fresh data key, the data key itself sealed
 * (AES-256-GCM) under the key-encryption key (KEK). Both are bound to `aad` (e.g. the app id),
 * so a record copied to another app does not open. Base64 fields; no plaintext.
 */
export interface Envelope {
  v: 1;
  /** Which KEK sealed it (a one-way id, see `keyEncryptionKeyId`). */
  kid: string;
  /** The data key: iv (12) ‖ tag (16) ‖ ciphertext (32). */
  dek: string;
  iv: string;
  tag: string;
  ct: string;
}

export const keyEncryptionKeyField = 'appRegistry.keyEncryptionKey';
const KEY_BYTES = 32;

/** Where the config says the KEK is: a file, or the name of an environment variable. */
export interface KeyEncryptionKeySource {
  file?: string | undefined;
  env?: string | undefined;
}

const configError = (field: string, message: string) =>
  new PushfleetError('PF_ERR_CONFIG', `${field}: ${message}`, { field });

/** 32 bytes as base64 (or base64url) or hex; anything else is a PF_ERR_CONFIG naming `field`. */
export function parseKeyEncryptionKey(text: string, field = keyEncryptionKeyField): Buffer {
  const value = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(value)
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(value)
      ? Buffer.from(value, 'base64')
      : undefined;
  if (key?.length !== KEY_BYTES) {
    throw configError(field, 'must be 32 random bytes, base64 or hex (openssl rand -base64 32)');
  }
  return key;
}

/**
 * Reads the KEK the config names (`appRegistry.keyEncryptionKey`); undefined when none is
 * configured. `env` is the process environment, passed in by the app (packages never read
 * process.env). Errors never quote the key.
 */
export function loadKeyEncryptionKey(
  source: KeyEncryptionKeySource | undefined,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Buffer | undefined {
  if (!source) return undefined;
  if (source.file !== undefined) {
    const field = `${keyEncryptionKeyField}.file`;
    let text: string;
    try {
      text = readFile(source.file);
    } catch (err) {
      throw configError(
        field,
        `cannot read ${source.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return parseKeyEncryptionKey(text, field);
  }
  if (source.env !== undefined) {
    const field = `${keyEncryptionKeyField}.env`;
    const text = env[source.env];
    if (text === undefined || text === '')
      throw configError(field, `environment variable ${source.env} is not set`);
    return parseKeyEncryptionKey(text, field);
  }
  return undefined;
}

/** A short one-way id of a KEK, to tell keys apart in stored envelopes without revealing them. */
export function keyEncryptionKeyId(kek: Buffer): string {
  return createHmac('sha256', kek).update('pushfleet key-encryption-key id').digest('hex').slice(0, 16);
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ct };
}

function gcmOpen(key: Buffer, iv: Buffer, tag: Buffer, ct: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ct), decipher.final()]);
}

/** Seals `plaintext` for `aad` under a fresh data key wrapped by `kek`. */
export function sealEnvelope(kek: Buffer, plaintext: Buffer, aad: string): Envelope {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const wrapped = gcmSeal(kek, dataKey, `dek:${aad}`);
    const sealed = gcmSeal(dataKey, plaintext, aad);
    return {
      v: 1,
      kid: keyEncryptionKeyId(kek),
      dek: Buffer.concat([wrapped.iv, wrapped.tag, wrapped.ct]).toString('base64'),
      iv: sealed.iv.toString('base64'),
      tag: sealed.tag.toString('base64'),
      ct: sealed.ct.toString('base64'),
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens an envelope sealed for `aad`. Throws a short error (never key or plaintext bytes) when
 * the KEK is not the one that sealed it or the envelope was altered.
 */
export function openEnvelope(kek: Buffer, envelope: Envelope, aad: string): Buffer {
  if (envelope.v !== 1) throw new Error(`unknown envelope version ${String(envelope.v)}`);
  if (envelope.kid !== keyEncryptionKeyId(kek)) {
    throw new Error('sealed under another key-encryption key');
  }
  let dataKey: Buffer | undefined;
  try {
    const wrapped = Buffer.from(envelope.dek, 'base64');
    dataKey = gcmOpen(
      kek,
      wrapped.subarray(0, 12),
      wrapped.subarray(12, 28),
      wrapped.subarray(28),
      `dek:${aad}`,
    );
    return gcmOpen(
      dataKey,
      Buffer.from(envelope.iv, 'base64'),
      Buffer.from(envelope.tag, 'base64'),
      Buffer.from(envelope.ct, 'base64'),
      aad,
    );
  } catch {
    throw new Error('cannot be decrypted (altered, or sealed for something else)');
  } finally {
    dataKey?.fill(0);
  }
}
