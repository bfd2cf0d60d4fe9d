import { after, before } from 'node:test';
import { createRedis } from '@pushfleet/queue';
import type { Redis } from 'ioredis';
import { type StartedRedis, startRedis } from './redis.ts';

export interface RedisForTests {
  server: StartedRedis;
  /** One connection with the worker's options (every command waits for a reconnect). */
  redis: Redis;
}

/**
 * A Redis server and one connection for a whole test file: started before its first test and
 * stopped after its last. `ready` receives both once they are up (assign them to the file's
 * variables there); the file's other hooks run after this one's.
 */
export function useRedis(ready: (started: RedisForTests) => void): void {
  let started: RedisForTests | undefined;
  before(async () => {
    const server = await startRedis();
    const redis = createRedis(server.url, 'worker');
    await redis.connect();
    started = { server, redis };
    ready(started);
  });
  after(async () => {
    started?.redis.disconnect();
    await started?.server.stop();
  });
}
