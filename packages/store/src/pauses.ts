import type { Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { globalSpace } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

export interface Pause {
  app: string;
  environment: Environment;
  reason: string;
  since: number;
  /** When workers send again, probing whether the credentials were fixed. */
  resumeAt: number;
}

const field = (app: string, environment: Environment) => `${app}/${environment}`;

/**
 * Credentials pauses, per app × environment (a sandbox-only key problem does not stop
 * production), fleet-wide: one hash every worker reads in one command, whatever the number of
 * apps. A pause ends by itself at `resumeAt`; workers then send again and probe.
 */
export class PauseStore {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${globalSpace(prefix)}:pauses`;
  }

  /** Pauses unless already paused; resolves to when sending resumes. */
  async pause(
    app: string,
    environment: Environment,
    reason: string,
    now: number,
    pauseMs: number,
  ): Promise<number> {
    return Number(
      await runScript(
        this.redis,
        'pause-set',
        [this.key],
        [field(app, environment), reason, now, now + pauseMs],
      ),
    );
  }

  /** Every pause in force or just over (over ones are dropped by `expire`). */
  async all(): Promise<Pause[]> {
    const hash = await this.redis.hgetall(this.key);
    return Object.entries(hash).map(([f, raw]) => {
      const [app, environment] = f.split('/') as [string, Environment];
      const value = JSON.parse(raw) as { reason: string; since: number; resumeAt: number };
      return { app, environment, ...value };
    });
  }

  /** Drops pauses that are over; returns them as `app/environment`. */
  async expire(now: number): Promise<string[]> {
    return (await runScript(this.redis, 'pause-expire', [this.key], [now])) as string[];
  }
}
