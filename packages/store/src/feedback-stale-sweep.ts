import type { Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { deviceKeys } from './device-registry.ts';
import { staleReason } from './feedback-keys.ts';
import { publishFeedbackEvents } from './feedback-publisher.ts';

export interface StaleSweepOptions {
  /** Tokens registered (or refreshed) before this time (ms) are stale. */
  cutoff: number;
  /** The events' timestamp: a registration refreshed after it survives the purge. */
  now: number;
  /** SSCAN page size (default 1000). */
  pageSize?: number;
}

/**
 * Publishes a `Stale` feedback event for each token of (app, environment) not refreshed since
 * `cutoff` (Apple may keep answering 200 for tokens of uninstalled apps). The purge itself is
 * the feedback processor's, with the same timestamp rule, so a registration refreshed between
 * the sweep and the purge is kept. Returns the number of stale tokens published.
 */
export async function sweepStaleTokens(
  redis: Redis,
  prefix: string,
  app: string,
  environment: Environment,
  options: StaleSweepOptions,
): Promise<number> {
  const pageSize = options.pageSize ?? 1000;
  let cursor = '0';
  let published = 0;
  do {
    const [next, tokens] = await redis.sscan(
      deviceKeys.all(prefix, app, environment),
      cursor,
      'COUNT',
      pageSize,
    );
    cursor = next;
    if (tokens.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const token of tokens)
      pipeline.hget(deviceKeys.device(prefix, app, environment, token), 'registeredAt');
    const results = (await pipeline.exec()) ?? [];
    const stale = tokens.filter((_, i) => {
      const value = results[i]?.[1];
      return typeof value === 'string' && Number(value) < options.cutoff;
    });
    await publishFeedbackEvents(
      redis,
      prefix,
      stale.map((token) => ({ app, environment, token, reason: staleReason, timestamp: options.now })),
    );
    published += stale.length;
  } while (cursor !== '0');
  return published;
}
