import type { Redis } from 'ioredis';

export interface AppPause {
  reason: string;
  since: number;
  /** When workers probe APNs again with the (possibly fixed) credentials. */
  resumeAt: number;
}

/**
 * Why an app's sending is paused, readable by the API and every worker. The pause itself is
 * the BullMQ queue pause; this record says why and until when.
 */
export class AppStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(app: string): string {
    return `${this.prefix}:app-state:${app}`;
  }

  async pause(app: string, pause: AppPause): Promise<void> {
    await this.redis.hset(this.key(app), {
      reason: pause.reason,
      since: pause.since,
      resumeAt: pause.resumeAt,
    });
  }

  async clear(app: string): Promise<void> {
    await this.redis.del(this.key(app));
  }

  async get(app: string): Promise<AppPause | undefined> {
    const hash = await this.redis.hgetall(this.key(app));
    if (!hash.reason) return undefined;
    return { reason: hash.reason, since: Number(hash.since), resumeAt: Number(hash.resumeAt) };
  }
}
