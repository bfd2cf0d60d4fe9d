import { createHash, randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { appSpace, ledgerKeys } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

export type IdempotencyBegin =
  | { kind: 'new'; id: string }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch' };

/** Where one key use lives: the app's space, scoped by API key and route, the key hashed. */
export interface IdempotencyRef {
  app: string;
  /** API key id and route: the same Idempotency-Key from two callers are two uses. */
  scope: string;
  key: string;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export interface IdempotencyOptions {
  /** How long a stored answer is replayed. */
  ttlSeconds: number;
  /** A claim not committed within this long (and not touched) is free again. */
  leaseMs?: number;
}

/**
 * `Idempotency-Key` bookkeeping. A request claims its key (pending, under a fresh random id and a
 * lease), and its commit stores the answer in the SAME transaction that accepts the request, so
 * "answered" and "accepted" can never disagree: a retry either replays the answer or finds a
 * pending claim whose request never committed. Ids are never derived from the key, so a key used
 * again after its answer expired names a new notification, never an old one.
 */
export class IdempotencyStore {
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: IdempotencyOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  private key(ref: IdempotencyRef): string {
    return ledgerKeys.idempotency(appSpace(this.prefix, ref.app), sha256Hex(`${ref.scope}\n${ref.key}`));
  }

  /** Pending claims outlive their lease a little, so a late retry still sees the answer or the claim. */
  private get pendingTtlSeconds(): number {
    return Math.ceil((this.leaseMs * 4) / 1000);
  }

  async begin(ref: IdempotencyRef, fingerprint: string, now = Date.now()): Promise<IdempotencyBegin> {
    const reply = (await runScript(
      this.redis,
      'idempotency-begin',
      [this.key(ref)],
      [fingerprint, randomUUID(), now, this.leaseMs, this.pendingTtlSeconds],
    )) as [string, string?];
    switch (reply[0]) {
      case 'new':
        return { kind: 'new', id: reply[1]! };
      case 'replay': {
        const entry = JSON.parse(reply[1]!) as { status: number; body: unknown };
        return { kind: 'replay', status: entry.status, body: entry.body };
      }
      case 'in-progress':
        return { kind: 'in-progress' };
      default:
        return { kind: 'mismatch' };
    }
  }

  /** Keeps a long request's claim (a campaign upload of millions of lines). */
  async touch(ref: IdempotencyRef, id: string, now = Date.now()): Promise<void> {
    await runScript(
      this.redis,
      'idempotency-touch',
      [this.key(ref)],
      [id, now, this.leaseMs, this.pendingTtlSeconds],
    );
  }

  /** Stores the answer in the caller's transaction: the one that accepts the request. */
  stageAnswer(
    tx: ChainableCommander,
    ref: IdempotencyRef,
    fingerprint: string,
    answer: { status: number; body: unknown },
  ): void {
    tx.set(this.key(ref), JSON.stringify({ fingerprint, ...answer }), 'EX', this.options.ttlSeconds);
  }

  /** The request failed: free the key, unless its commit happened after all (then the answer stays). */
  async abandon(ref: IdempotencyRef, id: string): Promise<void> {
    await runScript(this.redis, 'idempotency-abandon', [this.key(ref)], [id]);
  }
}
