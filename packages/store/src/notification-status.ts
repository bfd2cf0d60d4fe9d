import type { Environment, NotificationStatus, Outcome } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { notificationTtlSeconds, storeKeys } from './keys.ts';

/** KEYS: status hash. ARGV: now. 0 not found, 1 cancelled, 2 already cancelled, 3 finished. */
const cancelScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'cancelledAt') == 1 then return 2 end
local finished = 0
for _, f in ipairs({'delivered', 'rejected', 'failed', 'expired', 'cancelled'}) do
  finished = finished + tonumber(redis.call('HGET', KEYS[1], f) or '0')
end
local accepted = tonumber(redis.call('HGET', KEYS[1], 'accepted') or '0')
if redis.call('HGET', KEYS[1], 'fanoutDone') ~= '0' and finished >= accepted then return 3 end
redis.call('HSET', KEYS[1], 'cancelledAt', ARGV[1])
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

  /**
   * Marks a notification or campaign cancelled: the delivery worker counts batches not yet sent
   * as cancelled (it checks `cancelledAt` before each slice), the fan-out stops expanding.
   */
  async cancel(
    id: string,
    now = Date.now(),
  ): Promise<'cancelled' | 'already-cancelled' | 'finished' | 'not-found'> {
    const result = (await this.redis.eval(
      cancelScript,
      1,
      storeKeys.notification(this.prefix, id),
      now,
    )) as number;
    return (['not-found', 'cancelled', 'already-cancelled', 'finished'] as const)[result]!;
  }

  async isCancelled(id: string): Promise<boolean> {
    return (await this.redis.hexists(storeKeys.notification(this.prefix, id), 'cancelledAt')) === 1;
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
    // A campaign record is not done while its fan-out is still expanding the audience
    // (fanoutDone '0'); plain notifications have no such field.
    const done = finished >= status.accepted && hash.fanoutDone !== '0';
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

export type { NotificationStatus };
