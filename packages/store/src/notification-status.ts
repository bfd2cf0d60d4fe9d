import type { Environment, Outcome } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { notificationTtlSeconds, storeKeys } from './keys.ts';

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
