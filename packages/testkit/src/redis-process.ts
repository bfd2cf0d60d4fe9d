import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { waitFor } from './wait-for.ts';

/** One redis-server (or Sentinel) process on loopback, stoppable with a chosen signal. */
export interface RedisProcess {
  port: number;
  process: ChildProcess;
  /** SIGTERM (Redis 7 waits up to shutdown-timeout for replicas, fsyncs AOF) or SIGKILL (a crash). */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

/** A short-lived probe connection that never retries (for readiness polls and admin commands). */
export async function withProbe<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const probe = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on('error', () => undefined); // refused while starting: the caller's poll tries again
  try {
    await probe.connect();
    return await fn(probe);
  } finally {
    probe.disconnect();
  }
}

/**
 * Spawns `redis-server <args>` (a config file first, for Sentinel) and waits until it answers
 * PING. Never binds anything but 127.0.0.1.
 */
export async function spawnRedisProcess(port: number, args: string[]): Promise<RedisProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    `redis-server on 127.0.0.1:${port}`,
    async () => {
      if (child.exitCode !== null)
        throw new Error(`redis-server ${args.join(' ')} exited with ${child.exitCode}`);
      return withProbe(port, async (r) => (await r.ping()) === 'PONG');
    },
    { timeoutMs: 10_000 },
  );
  return {
    port,
    process: child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Arguments every data node gets: loopback only, no RDB snapshots, its own directory. */
export function dataNodeArgs(port: number, dir: string, extra: string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...extra];
}
