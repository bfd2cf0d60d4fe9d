import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers wait out a Redis outage (BullMQ requires `maxRetriesPerRequest: null`); producers fail
 * fast so the API can answer 503 instead of holding requests while Redis is away.
 */
export type RedisRole = 'worker' | 'producer';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  return new Redis(url, { ...options, lazyConnect: true, ...extra });
}

/** Connects and checks the eviction policy: BullMQ loses jobs under any policy but noeviction. */
export async function connectRedis(redis: Redis): Promise<void> {
  if (redis.status === 'wait') await redis.connect();
  const policy = (await redis.config('GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
  const value = policy?.[1];
  if (value !== undefined && value !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is "${value}"; Pushfleet requires "noeviction" (queued jobs would be evicted)`,
    );
  }
}
