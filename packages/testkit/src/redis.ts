import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitFor } from './wait-for.ts';

export interface StartedRedis {
  url: string;
  /** How it was obtained: the caller's REDIS_URL, a container, or a spawned redis-server. */
  source: 'env' | 'testcontainers' | 'redis-server';
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Ignore REDIS_URL (for tests that must own their server, e.g. to restart it). */
  ownServer?: boolean;
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: string[];
}

const howToGetRedis =
  'No Redis available. Set REDIS_URL=redis://host:port, start a Docker engine (testcontainers), ' +
  'or install redis-server (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis).';

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainer(): Promise<StartedRedis> {
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7-alpine').start();
  return {
    url: container.getConnectionUrl(),
    source: 'testcontainers',
    stop: async () => void (await container.stop()),
  };
}

export interface SpawnedRedis extends StartedRedis {
  port: number;
  dir: string;
  process: ChildProcess;
}

/** Spawns redis-server on a free loopback port, no persistence unless args ask for it. */
export async function spawnRedisServer(
  args: string[] = [],
  port?: number,
  dir?: string,
): Promise<SpawnedRedis> {
  const chosenPort = port ?? (await freePort());
  const workDir = dir ?? mkdtempSync(join(tmpdir(), 'pushfleet-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(chosenPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      workDir,
      ...args,
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${chosenPort}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    `redis-server on ${url}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined); // refused while starting: the poll tries again
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    },
    { timeoutMs: 10_000 },
  );
  let stopping: Promise<void> | undefined;
  return {
    url,
    port: chosenPort,
    dir: workDir,
    process: child,
    source: 'redis-server',
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
        if (!dir) rmSync(workDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * Redis for tests and the demo: REDIS_URL if set; else a container when a Docker engine answers;
 * else a spawned redis-server; else a clear error saying how to get one. Callers use a fresh key
 * prefix and never flush a server they did not start.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<StartedRedis> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv && !options.ownServer) return { url: fromEnv, source: 'env', stop: async () => {} };
  if (!options.args && (await dockerAnswers())) return startContainer();
  if (hasRedisServer()) return spawnRedisServer(options.args);
  throw new Error(howToGetRedis);
}
