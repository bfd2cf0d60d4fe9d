import type { Redis } from 'ioredis';
import { storeKeys } from './keys.ts';
import { runScript } from './scripts.ts';

/** A fleet-wide send rate per app (GCRA over Redis time, see lua/rate-reserve.lua). */
export class FleetRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Reserves `n` sends for `app`; resolves to the milliseconds to wait before sending them. */
  async reserve(app: string, n: number, ratePerSecond: number): Promise<number> {
    const intervalUs = 1_000_000 / ratePerSecond;
    const waitMs = await runScript(
      this.redis,
      'rate-reserve',
      [storeKeys.rate(this.prefix, app)],
      [n, intervalUs, 1_000_000],
    );
    return Number(waitMs);
  }
}
