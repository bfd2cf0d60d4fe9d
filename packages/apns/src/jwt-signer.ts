import { createPrivateKey, type KeyObject, sign } from 'node:crypto';

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Apple: refresh no more than once every 20 minutes and at least once every 60. */
export const minTokenAgeMs = 20 * 60_000;
export const maxTokenAgeMs = 60 * 60_000;

export interface JwtSignerOptions {
  /** The .p8 key, PEM or already parsed (parse once per app; signers are per connection). */
  key: KeyObject | string;
  keyId: string;
  teamId: string;
  /** When to refresh proactively; clamped into [20 min, 60 min). Default 50 min. */
  refreshAfterMs?: number;
  now?: () => number;
}

/**
 * ES256 provider tokens for token-based APNs auth. One signer per connection, because APNs
 * counts token updates per connection: a connection's token is re-signed only when it is old
 * enough that APNs cannot answer TooManyProviderTokenUpdates, yet before it expires at one hour.
 */
export class JwtSigner {
  private readonly key: KeyObject;
  private readonly refreshAfterMs: number;
  private readonly now: () => number;
  private current: { header: string; issuedAt: number } | undefined;
  /** Incremented on every new token: lets callers see that a refresh happened. */
  generation = 0;

  constructor(private readonly options: JwtSignerOptions) {
    this.key = typeof options.key === 'string' ? createPrivateKey(options.key) : options.key;
    if (this.key.asymmetricKeyType !== 'ec') throw new Error('APNs signing keys must be EC P-256 (.p8)');
    this.refreshAfterMs = Math.min(
      maxTokenAgeMs - 60_000,
      Math.max(minTokenAgeMs, options.refreshAfterMs ?? 50 * 60_000),
    );
    this.now = options.now ?? Date.now;
  }

  /** The `authorization` header value to send now. */
  authorization(): string {
    const current = this.current;
    if (current && this.now() - current.issuedAt < this.refreshAfterMs) return current.header;
    return this.mint();
  }

  /**
   * APNs said ExpiredProviderToken. Re-sign only if the token is at least 20 minutes old;
   * a younger one means clock skew, and a new token would draw TooManyProviderTokenUpdates.
   */
  refreshAfterExpired(): boolean {
    if (this.current && this.now() - this.current.issuedAt < minTokenAgeMs) return false;
    this.mint();
    return true;
  }

  tokenAgeMs(): number | undefined {
    return this.current ? this.now() - this.current.issuedAt : undefined;
  }

  private mint(): string {
    const issuedAt = this.now();
    const header = base64url(JSON.stringify({ alg: 'ES256', kid: this.options.keyId }));
    const claims = base64url(JSON.stringify({ iss: this.options.teamId, iat: Math.floor(issuedAt / 1000) }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
      key: this.key,
      dsaEncoding: 'ieee-p1363',
    });
    const value = `bearer ${header}.${claims}.${base64url(signature)}`;
    this.current = { header: value, issuedAt };
    this.generation++;
    return value;
  }
}
