import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@pushfleet/queue';
import type { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { type StartedCluster, startRedisCluster } from './redis-cluster.ts';
import { dataNodeArgs, type RedisProcess, spawnRedisProcess } from './redis-process.ts';
import { type StartedSentinel, startRedisSentinel } from './redis-sentinel.ts';

export type RedisTopologyKind = 'standalone' | 'sentinel' | 'cluster';

/** A Redis topology for the fleet: its `redis:` config block (minus prefix) and a test client. */
export interface StartedRedisTopology {
  kind: RedisTopologyKind;
  config: Record<string, unknown>;
  /**
   * The key prefix the fleet will really use for `prefix` (hash-tagged in Cluster mode), for
   * tests that read store keys directly.
   */
  effectivePrefix(prefix: string): string;
  /** A worker-role client (waits out outages and failovers) through the same factory as the fleet. */
  client(): Promise<Redis>;
  /** The processes behind it, for failover and restart tests. */
  sentinel?: StartedSentinel;
  cluster?: StartedCluster;
  stop(): Promise<void>;
}

/** The topology named by PUSHFLEET_TEST_REDIS_TOPOLOGY (standalone when unset). */
export function testTopologyFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTopologyKind {
  const value = env.PUSHFLEET_TEST_REDIS_TOPOLOGY ?? 'standalone';
  if (value !== 'standalone' && value !== 'sentinel' && value !== 'cluster') {
    throw new Error(`PUSHFLEET_TEST_REDIS_TOPOLOGY must be standalone, sentinel or cluster, not "${value}"`);
  }
  return value;
}

/** A standalone server with AOF (`appendfsync everysec`) that can be restarted on the same port and data. */
export interface RestartableRedis {
  url: string;
  port: number;
  current(): RedisProcess;
  /** Stops (SIGTERM or SIGKILL) and starts again on the same port and directory; resolves once it answers. */
  restart(signal?: 'SIGTERM' | 'SIGKILL', downMs?: number): Promise<void>;
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startAofRedis(extraArgs: string[] = []): Promise<RestartableRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-aof-'));
  const args = dataNodeArgs(port, dir, ['--appendonly', 'yes', '--appendfsync', 'everysec', ...extraArgs]);
  let proc: RedisProcess | undefined = await spawnRedisProcess(port, args);
  const self: RestartableRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    current: () => proc!,
    async stop(signal = 'SIGTERM') {
      await proc?.stop(signal);
      proc = undefined;
    },
    async start() {
      proc ??= await spawnRedisProcess(port, args);
    },
    async restart(signal = 'SIGTERM', downMs = 0) {
      await self.stop(signal);
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs)); // an outage of a given length
      await self.start();
    },
    async cleanup() {
      await proc?.stop('SIGKILL');
      proc = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** Starts the topology: standalone (one spawned server), primary + replica + 3 Sentinels, or a 3×2 Cluster. */
export async function startRedisTopology(kind: RedisTopologyKind): Promise<StartedRedisTopology> {
  const clientFor = (config: Record<string, unknown>) => async () => {
    const redis = createRedis({ url: 'redis://127.0.0.1:6379', prefix: '', ...config }, 'worker');
    redis.on('error', () => undefined); // failovers in tests: the client reconnects
    await redis.connect();
    return redis;
  };
  if (kind === 'sentinel') {
    const s = await startRedisSentinel();
    return {
      kind,
      config: s.config,
      effectivePrefix: (p) => p,
      client: clientFor(s.config),
      sentinel: s,
      stop: () => s.stop(),
    };
  }
  if (kind === 'cluster') {
    const c = await startRedisCluster();
    return {
      kind,
      config: c.config,
      effectivePrefix: (prefix: string) => prefix,
      client: clientFor(c.config),
      cluster: c,
      stop: () => c.stop(),
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-redis-'));
  const proc = await spawnRedisProcess(port, dataNodeArgs(port, dir, ['--appendonly', 'no']));
  const config = { url: `redis://127.0.0.1:${port}` };
  return {
    kind,
    config,
    effectivePrefix: (p) => p,
    client: clientFor(config),
    async stop() {
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
