import { createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { errorText } from './connection.ts';
import type { TransportTarget } from './transport.ts';

/** Credentials parsed once per pool: everything that can reject a key or certificate happens here. */
export interface LoadedCredentials {
  secureContext: SecureContext;
  /** The parsed .p8 signing key (token auth). */
  signingKey?: { key: KeyObject; keyId: string; teamId: string };
  /** A client certificate is presented: TLS refusals are then credentials errors. */
  clientCertificate: boolean;
}

export type CredentialsOutcome =
  | { ok: true; loaded: LoadedCredentials }
  | { ok: false; error: string; credentials: boolean };

/**
 * Parses the target's key or certificate and the TLS trust into one secure context. Never throws:
 * a key or certificate that cannot be used becomes a short error text naming what is wrong and
 * OpenSSL's error code, never the material or the passphrase.
 */
export function loadCredentials(
  target: Pick<TransportTarget, 'credentials' | 'endpoint'>,
): CredentialsOutcome {
  const { credentials, endpoint } = target;
  const ca = endpoint?.caPem ? [...rootCertificates, endpoint.caPem] : undefined;
  try {
    if (credentials.type === 'token') {
      let key: KeyObject;
      try {
        key = createPrivateKey(credentials.keyPem);
      } catch (err) {
        return {
          ok: false,
          credentials: true,
          error: `credentials: the signing key cannot be parsed (${errorText(err)})`,
        };
      }
      if (key.asymmetricKeyType !== 'ec') {
        return {
          ok: false,
          credentials: true,
          error: 'credentials: the signing key is not an EC P-256 (.p8) key',
        };
      }
      return {
        ok: true,
        loaded: {
          secureContext: createSecureContext(ca ? { ca } : {}),
          signingKey: { key, keyId: credentials.keyId, teamId: credentials.teamId },
          clientCertificate: false,
        },
      };
    }
    if (!credentials.pfx && !(credentials.certPem && credentials.keyPem)) {
      return {
        ok: false,
        credentials: true,
        error: 'credentials: a certificate needs a .p12 or both a certificate and a key',
      };
    }
    try {
      const secureContext = createSecureContext({
        ...(ca && { ca }),
        ...(credentials.certPem && { cert: credentials.certPem }),
        ...(credentials.keyPem && { key: credentials.keyPem }),
        ...(credentials.pfx && { pfx: credentials.pfx }),
        ...(credentials.passphrase !== undefined && { passphrase: credentials.passphrase }),
      });
      return { ok: true, loaded: { secureContext, clientCertificate: true } };
    } catch (err) {
      return {
        ok: false,
        credentials: true,
        error: `credentials: the certificate or its key cannot be loaded (${certificateErrorText(err)})`,
      };
    }
  } catch (err) {
    // The endpoint's CA (not a credential): still a value, never an exception.
    return { ok: false, credentials: false, error: `the TLS trust cannot be loaded (${errorText(err)})` };
  }
}

/** OpenSSL's code; p12 errors come without one ("mac verify failure" = wrong passphrase). */
function certificateErrorText(err: unknown): string {
  const text = errorText(err);
  if (/mac verify failure/i.test(text)) return 'wrong passphrase';
  return text.startsWith('ERR_') ? text : 'unreadable';
}
