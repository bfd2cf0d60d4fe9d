import type { Redis } from 'ioredis';
import { runScript } from './scripts.ts';

/**
 * GCRA over Redis time: reserves `n` sends at `ratePerSecond` for the whole fleet and answers
 * how long the caller must wait before sending them. Bursts of up to one second's worth pass.
 * KEYS: theoretical-arrival-time key. ARGV: n, interval (µs per send), burst (µs).
 */
const reserveScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newTat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1000)
local waitUs = newTat - tonumber(ARGV[3]) - now
if waitUs < 0 then return 0 end
return math.ceil(waitUs / 1000)
`;

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
      'pushfleetReserveRate',
      reserveScript,
      1,
      `${this.prefix}:rate:${app}`,
      n,
      intervalUs,
      1_000_000,
    );
    return Number(waitMs);
  }
}
