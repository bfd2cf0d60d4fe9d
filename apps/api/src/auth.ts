import { createHash, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Config } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;

export const permissions = ['send', 'register', 'read', 'admin'] as const;
export type Permission = (typeof permissions)[number];

type KeyConfig = Config['api']['keys'][number];

/** Who is calling: a configured key, or `anonymous` when auth is off (dev and demo only). */
export interface Principal {
  id: string;
  apps: readonly string[];
  permissions: readonly Permission[];
}

const anonymous: Principal = { id: 'anonymous', apps: ['*'], permissions: ['admin'] };

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** `sha256:<hex>` of a key: fast, fine for long random keys (what `pushfleet keys hash` makes). */
export function hashApiKeySha256(key: string): string {
  return `sha256:${sha256(key).toString('hex')}`;
}

/** `scrypt:<salt>:<hash>`: slow by design, for keys that might be guessable. */
export async function hashApiKeyScrypt(key: string, salt: Buffer): Promise<string> {
  return `scrypt:${salt.toString('hex')}:${(await scrypt(key, salt, 32)).toString('hex')}`;
}

/** Auth is on when `api.auth.required` says so, or (unset) when any key is configured. */
export function authRequired(config: Readonly<Config>): boolean {
  return config.api.auth.required ?? config.api.keys.length > 0;
}

/**
 * Verifies bearer keys against configured hashes. Every sha256 entry is compared, in constant
 * time, without early exit; scrypt results are cached by the key's sha256 (scrypt costs ~50 ms).
 */
export class ApiKeyVerifier {
  private readonly sha256Keys: { entry: KeyConfig; digest: Buffer }[] = [];
  private readonly scryptKeys: { entry: KeyConfig; salt: Buffer; digest: Buffer }[] = [];
  private readonly scryptCache = new Map<string, Principal | null>();

  constructor(
    keys: readonly KeyConfig[],
    readonly required: boolean,
  ) {
    for (const entry of keys) {
      const [kind, a, b] = entry.hash.split(':');
      if (kind === 'sha256') this.sha256Keys.push({ entry, digest: Buffer.from(a!, 'hex') });
      else this.scryptKeys.push({ entry, salt: Buffer.from(a!, 'hex'), digest: Buffer.from(b!, 'hex') });
    }
  }

  /**
   * The caller, or a 401 PushfleetError. With auth off, everyone is `anonymous` (admin).
   * `beforeSlowCheck` runs before a key must go through scrypt (not cached yet): the caller's
   * chance to refuse (rate-limit) unknown keys before they cost ~50 ms of CPU each.
   */
  async authenticate(authorization: string | undefined, beforeSlowCheck?: () => void): Promise<Principal> {
    if (!this.required) return anonymous;
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization ?? '');
    if (!match) throw new PushfleetError('PF_ERR_UNAUTHORIZED');
    const key = match[1]!;
    const digest = sha256(key);
    let found: KeyConfig | undefined;
    for (const candidate of this.sha256Keys) {
      if (timingSafeEqual(candidate.digest, digest) && !found) found = candidate.entry;
    }
    if (found) return toPrincipal(found);
    if (this.scryptKeys.length > 0) {
      const cacheKey = digest.toString('hex');
      let principal = this.scryptCache.get(cacheKey);
      if (principal === undefined) {
        beforeSlowCheck?.();
        principal = null;
        for (const candidate of this.scryptKeys) {
          const computed = await scrypt(key, candidate.salt, candidate.digest.length);
          if (timingSafeEqual(computed, candidate.digest) && !principal)
            principal = toPrincipal(candidate.entry);
        }
        if (this.scryptCache.size >= 10_000) this.scryptCache.clear();
        this.scryptCache.set(cacheKey, principal);
      }
      if (principal) return principal;
    }
    throw new PushfleetError('PF_ERR_UNAUTHORIZED', 'unknown API key');
  }
}

function toPrincipal(entry: KeyConfig): Principal {
  return { id: entry.id, apps: entry.apps, permissions: entry.permissions };
}

/**
 * 403 unless the principal may act on this app with this permission (admin implies all). Routes
 * without an app in the path (`GET /v1/apps`) check the permission only, and show just the
 * principal's apps.
 */
export function authorize(principal: Principal, app: string | undefined, permission: Permission): void {
  if (app !== undefined && !principal.apps.includes('*') && !principal.apps.includes(app)) {
    throw new PushfleetError('PF_ERR_FORBIDDEN', `key "${principal.id}" is not scoped to app "${app}"`);
  }
  if (!principal.permissions.includes('admin') && !principal.permissions.includes(permission)) {
    throw new PushfleetError(
      'PF_ERR_FORBIDDEN',
      `key "${principal.id}" lacks the "${permission}" permission`,
    );
  }
}
