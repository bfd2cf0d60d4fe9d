import { backoffDelayMs } from '@pushfleet/core';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import {
  clusterOptions,
  type RedisConnectionSettings,
  redisTopology,
  sentinelOptions,
  tlsOptions,
} from './redis-topology.ts';

/**
 * Workers wait out a Redis outage (BullMQ requires `maxRetriesPerRequest: null`); producers fail
 * fast so the API can answer 503 instead of holding requests while Redis is away.
 */
export type RedisRole = 'worker' | 'producer';

/** Reconnect backoff: quick first tries (a failover takes seconds), capped so a long outage costs little. */
export function reconnectDelayMs(times: number): number {
  return backoffDelayMs(times, { baseMs: 50, maxMs: 2000 });
}

function roleOptions(role: RedisRole, s: RedisConnectionSettings): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, enableReadyCheck: true }
    : {
        maxRetriesPerRequest: 1,
        connectTimeout: s.connectTimeoutMs ?? 2000,
        // A server that accepts the connection but never answers (paused, overloaded) must not hold requests.
        commandTimeout: s.commandTimeoutMs ?? 5000,
        // A request answered 503 must not be accepted later behind its back: a command sent before
        // a reconnect is never sent again (the client retries with its Idempotency-Key instead).
        autoResendUnfulfilledCommands: false,
      };
}

/**
 * One factory for every topology: a URL (standalone, `rediss://` for TLS), a Sentinel-managed
 * primary or a Cluster, from the `redis:` config block. A Cluster client is returned typed as
 * `Redis`: it has the same command surface (commands, eval/defineCommand, multi, pipeline,
 * duplicate), so stores, producers and BullMQ take one connection type and one code path.
 * The caller's `prefix` must be hash-tagged in Cluster mode (the config schema does that).
 */
export function createRedis(
  settings: string | RedisConnectionSettings,
  role: RedisRole,
  extra: RedisOptions = {},
): Redis {
  const s: RedisConnectionSettings = typeof settings === 'string' ? { url: settings, prefix: '' } : settings;
  const base = roleOptions(role, s);
  const topology = redisTopology(s);
  if (topology === 'cluster') {
    const { maxRetriesPerRequest, ...nodeBase } = base;
    const cluster = new Cluster(s.cluster!.nodes, {
      ...clusterOptions(s, { ...nodeBase, maxRetriesPerRequest, ...extra }),
      lazyConnect: true,
      enableOfflineQueue: role === 'worker',
      clusterRetryStrategy: reconnectDelayMs,
      // A failover moves slots: retry a moment later instead of failing the command.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
    });
    return cluster as unknown as Redis;
  }
  const common: RedisOptions = {
    ...base,
    lazyConnect: true,
    retryStrategy: reconnectDelayMs,
    // Producers: no offline queue, so a request during an outage fails now (503), not later.
    enableOfflineQueue: role === 'worker',
  };
  if (topology === 'sentinel') {
    return new Redis({ ...sentinelOptions(s), ...common, failoverDetector: true, ...extra });
  }
  const auth: RedisOptions = {};
  if (s.username !== undefined) auth.username = s.username;
  if (s.password !== undefined) auth.password = s.password;
  if (s.db !== undefined) auth.db = s.db;
  if (s.tls) auth.tls = tlsOptions(s.tls);
  return new Redis(s.url, { ...auth, ...common, ...extra });
}

export function isCluster(redis: Redis): boolean {
  return (redis as unknown) instanceof Cluster;
}

/** Resolves when ioredis (reconnecting on its own) is ready; rejects with `err` after `ms`. */
function readyWithin(redis: Redis, ms: number, err: Error): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(err);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/** The Redis servers holding data: every primary of a Cluster, else the one connection. */
function dataNodes(redis: Redis): Redis[] {
  return isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
}

/** How long a worker's connection waits for Redis at start before the process gives up. */
export const startupWaitMs = 60_000;

/**
 * Connects and checks the eviction policy on every primary: BullMQ loses jobs under any policy
 * but noeviction, so a process refuses to start rather than lose work later. A server that
 * forbids CONFIG (managed Redis) is trusted. A worker's connection (it waits out outages once
 * running) also waits out one at start, up to `waitMs`: a worker started while Redis restarts
 * comes up with it instead of exiting. A producer's fails at once.
 */
export async function connectRedis(redis: Redis, waitMs = startupWaitMs): Promise<void> {
  if (redis.status === 'wait') {
    try {
      await redis.connect();
    } catch (err) {
      if (isCluster(redis) || redis.options.maxRetriesPerRequest !== null) throw err;
      await readyWithin(redis, waitMs, err as Error);
    }
  }
  for (const node of dataNodes(redis)) {
    const policy = (await node.config('GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
    const value = policy?.[1];
    if (value !== undefined && value !== 'noeviction') {
      const where = isCluster(redis) ? ` on ${node.options.host}:${node.options.port}` : '';
      throw new Error(
        `Redis maxmemory-policy is "${value}"${where}; Pushfleet requires "noeviction" (queued jobs would be evicted)`,
      );
    }
  }
}
