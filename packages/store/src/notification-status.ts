import type { Environment, Outcome } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { notificationTtlSeconds, storeKeys } from './keys.ts';

/** Outcomes of one slice of a batch, applied to the counters in one atomic step. */
export interface OutcomeCounts {
  delivered: number;
  expired: number;
  cancelled: number;
  rejected: Record<string, number>;
  failed: Record<string, number>;
  /** Tokens APNs reported dead: they become feedback events in the same step. */
  invalidated: InvalidatedToken[];
}

export interface InvalidatedToken {
  token: string;
  reason: string;
  /** Apple's timestamp (ms) from a 410, else the time the answer arrived. */
  timestamp: number;
}

export function emptyOutcomeCounts(): OutcomeCounts {
  return { delivered: 0, expired: 0, cancelled: 0, rejected: {}, failed: {}, invalidated: [] };
}

export interface NotificationStatus {
  id: string;
  app: string;
  environment: Environment;
  state: 'queued' | 'done';
  accepted: number;
  delivered: number;
  rejected: number;
  failed: number;
  expired: number;
  cancelled: number;
  reasons: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
}

/**
 * Applies outcome counts once per `applyId` (job id + slice): a batch re-run after a crash
 * cannot double-count, because the SADD guard and the increments commit together.
 * KEYS: status hash, applied set, feedback stream. ARGV: applyId, ttl, now, app, environment,
 * then field/increment pairs count, then token/reason/timestamp triples.
 */
const applyOutcomesScript = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[2])
local pairs = tonumber(ARGV[6])
local i = 7
for _ = 1, pairs do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'lastOutcomeAt', ARGV[3])
while i <= #ARGV do
  redis.call('XADD', KEYS[3], '*', 'app', ARGV[4], 'environment', ARGV[5], 'token', ARGV[i], 'reason', ARGV[i + 1], 'timestamp', ARGV[i + 2])
  i = i + 3
end
return 1
`;

export class NotificationStatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async create(input: {
    id: string;
    app: string;
    environment: Environment;
    accepted: number;
  }): Promise<void> {
    const key = storeKeys.notification(this.prefix, input.id);
    await this.redis
      .multi()
      .hset(key, {
        app: input.app,
        environment: input.environment,
        accepted: input.accepted,
        createdAt: Date.now(),
      })
      .expire(key, notificationTtlSeconds)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(storeKeys.notification(this.prefix, id));
  }

  /** Returns false when this applyId was already applied (a re-run), true otherwise. */
  async applyOutcomes(
    id: string,
    applyId: string,
    context: { app: string; environment: Environment },
    counts: OutcomeCounts,
  ): Promise<boolean> {
    const fields: (string | number)[] = [];
    const add = (field: string, n: number) => {
      if (n > 0) fields.push(field, n);
    };
    add('delivered', counts.delivered);
    add('expired', counts.expired);
    add('cancelled', counts.cancelled);
    for (const [kind, byReason] of [
      ['rejected', counts.rejected],
      ['failed', counts.failed],
    ] as const) {
      for (const [reason, n] of Object.entries(byReason)) {
        add(kind, n);
        add(`reason:${reason}`, n);
      }
    }
    const feedback = counts.invalidated.flatMap((t) => [t.token, t.reason, String(t.timestamp)]);
    const applied = await this.redis.eval(
      applyOutcomesScript,
      3,
      storeKeys.notification(this.prefix, id),
      storeKeys.notificationApplied(this.prefix, id),
      storeKeys.feedbackStream(this.prefix),
      applyId,
      notificationTtlSeconds,
      Date.now(),
      context.app,
      context.environment,
      fields.length / 2,
      ...fields,
      ...feedback,
    );
    return applied === 1;
  }

  async get(id: string): Promise<NotificationStatus | null> {
    const hash = await this.redis.hgetall(storeKeys.notification(this.prefix, id));
    if (!hash.app) return null;
    const n = (field: string) => Number(hash[field] ?? 0);
    const reasons: Record<string, number> = {};
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('reason:')) reasons[field.slice('reason:'.length)] = Number(value);
    }
    const status = {
      accepted: n('accepted'),
      delivered: n('delivered'),
      rejected: n('rejected'),
      failed: n('failed'),
      expired: n('expired'),
      cancelled: n('cancelled'),
    } satisfies Record<'accepted' | Outcome, number>;
    const finished = status.delivered + status.rejected + status.failed + status.expired + status.cancelled;
    const done = finished >= status.accepted;
    return {
      id,
      app: hash.app,
      environment: hash.environment as Environment,
      state: done ? 'done' : 'queued',
      ...status,
      reasons,
      createdAt: new Date(n('createdAt')).toISOString(),
      finishedAt: done && hash.lastOutcomeAt ? new Date(n('lastOutcomeAt')).toISOString() : null,
    };
  }
}
