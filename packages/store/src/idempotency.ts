import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type IdempotencyBegin =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch' };

interface Entry {
  fingerprint: string;
  status?: number;
  body?: unknown;
}

/** SET NX the pending entry or return the existing one, in one round trip. */
const beginScript = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
`;

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * `Idempotency-Key` bookkeeping: the first request with a key claims it (pending, short TTL so a
 * crashed request frees it), then stores its answer for `ttlSeconds`; a repeat within that time
 * gets the same answer and enqueues nothing. Keys are scoped (API key id + app), and a reused key
 * with a different request is a mismatch, never a silent replay of another request's answer.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(scope: string, idempotencyKey: string): string {
    return `${this.prefix}:idempotency:${scope}:${sha256Hex(idempotencyKey)}`;
  }

  async begin(
    scope: string,
    idempotencyKey: string,
    fingerprint: string,
    pendingTtlSeconds = 120,
  ): Promise<IdempotencyBegin> {
    const existing = (await this.redis.eval(
      beginScript,
      1,
      this.key(scope, idempotencyKey),
      JSON.stringify({ fingerprint } satisfies Entry),
      pendingTtlSeconds,
    )) as string | null;
    if (existing === null) return { kind: 'new' };
    const entry = JSON.parse(existing) as Entry;
    if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (entry.status === undefined) return { kind: 'in-progress' };
    return { kind: 'replay', status: entry.status, body: entry.body };
  }

  /** Keeps a long request's claim alive (e.g. a campaign upload of millions of lines). */
  async touch(scope: string, idempotencyKey: string, pendingTtlSeconds = 120): Promise<void> {
    await this.redis.expire(this.key(scope, idempotencyKey), pendingTtlSeconds);
  }

  async complete(
    scope: string,
    idempotencyKey: string,
    fingerprint: string,
    answer: { status: number; body: unknown },
    ttlSeconds: number,
  ): Promise<void> {
    const entry: Entry = { fingerprint, status: answer.status, body: answer.body };
    await this.redis.set(this.key(scope, idempotencyKey), JSON.stringify(entry), 'EX', ttlSeconds);
  }

  /** The request failed before anything was accepted: let the client retry with the same key. */
  async abandon(scope: string, idempotencyKey: string): Promise<void> {
    await this.redis.del(this.key(scope, idempotencyKey));
  }
}
