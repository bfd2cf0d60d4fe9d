import { type KeyObject, verify } from 'node:crypto';

/** The parts of an APNs provider token the simulator checks (docs/apns-protocol.md §B.1). */
export interface ProviderTokenClaims {
  kid: string;
  iss: string;
  /** Seconds since the epoch. */
  iat: number;
}

export type ParsedToken =
  | { ok: true; claims: ProviderTokenClaims; signingInput: Buffer; signature: Buffer }
  | { ok: false; why: string };

function decodeJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const base64url = /^[A-Za-z0-9_-]*$/;

/** Splits and decodes `header.claims.signature`; checks shape only, not the signature. */
export function parseProviderToken(jwt: string): ParsedToken {
  const parts = jwt.split('.');
  if (parts.length !== 3) return { ok: false, why: 'not three segments' };
  const [h, c, s] = parts as [string, string, string];
  if (!base64url.test(h) || !base64url.test(c) || !base64url.test(s))
    return { ok: false, why: 'not base64url' };
  const header = decodeJson(h) as { alg?: unknown; kid?: unknown } | undefined;
  const claims = decodeJson(c) as { iss?: unknown; iat?: unknown } | undefined;
  if (!header || typeof header !== 'object') return { ok: false, why: 'bad header' };
  if (!claims || typeof claims !== 'object') return { ok: false, why: 'bad claims' };
  // ES256 is the only algorithm APNs accepts; 'none' and everything else is InvalidProviderToken.
  if (header.alg !== 'ES256') return { ok: false, why: 'alg is not ES256' };
  if (typeof header.kid !== 'string' || header.kid === '') return { ok: false, why: 'no kid' };
  if (typeof claims.iss !== 'string' || claims.iss === '') return { ok: false, why: 'no iss' };
  if (typeof claims.iat !== 'number' || !Number.isInteger(claims.iat))
    return { ok: false, why: 'iat not an integer' };
  const signature = Buffer.from(s, 'base64url');
  if (signature.length === 0) return { ok: false, why: 'unsigned' };
  return {
    ok: true,
    claims: { kid: header.kid, iss: claims.iss, iat: claims.iat },
    signingInput: Buffer.from(`${h}.${c}`, 'ascii'),
    signature,
  };
}

/**
 * Verifies an ES256 signature in either encoding seen in production: raw R‖S (64 bytes,
 * JOSE standard, e.g. Go and node clients) or ASN.1 DER (Java's SHA256withECDSA, e.g. pushy).
 */
export function verifyEs256(signingInput: Buffer, signature: Buffer, key: KeyObject): boolean {
  const dsaEncoding = signature.length === 64 ? 'ieee-p1363' : 'der';
  try {
    return verify('sha256', signingInput, { key, dsaEncoding }, signature);
  } catch {
    return false;
  }
}
