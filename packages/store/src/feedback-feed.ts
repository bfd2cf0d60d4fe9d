import type { FeedbackItem } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { feedbackKeys } from './feedback-keys.ts';

/** A feed entry as webhooks carry it: the API's feedback item plus what the purge did. */
export interface FeedItem extends FeedbackItem {
  /** `purged` (removed from the registry) or `unknown` (not registered here). */
  action: string;
}

export interface DeadLetter {
  /** The batch that failed every attempt: feed ids `from` (exclusive) to `to` (inclusive). */
  from: string | null;
  to: string;
  items: FeedItem[];
  attempts: number;
  error: string;
  at: string;
}

/** Dead letters kept per app; older ones drop off (the feed itself still has the items). */
const maxDeadLetters = 1000;

/**
 * Moves the cursor from ARGV[1] ('' = unset) to ARGV[2] only if nobody moved it meanwhile, so
 * two jobs for the same app can never move it backwards. With ARGV[3], also records a dead
 * letter, in the same step. KEYS: cursor, dead-letter list.
 */
const advanceScript = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] then
  redis.call('LPUSH', KEYS[2], ARGV[3])
  redis.call('LTRIM', KEYS[2], 0, ${maxDeadLetters - 1})
end
return 1
`;

function toItem([id, flat]: [string, string[]]): FeedItem {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    token: f.token ?? '',
    environment: f.environment ?? '',
    reason: f.reason ?? '',
    timestamp: new Date(Number(f.timestamp ?? 0)).toISOString(),
    action: f.action ?? '',
  };
}

/** The per-app feed the purge publishes to, and the webhook cursor and dead letters over it. */
export class FeedbackFeed {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Entries after `after` (exclusive; null = from the start), oldest first. */
  async read(app: string, after: string | null, count: number): Promise<FeedItem[]> {
    const start = after ? `(${after}` : '-';
    const entries = await this.redis.xrange(feedbackKeys.feed(this.prefix, app), start, '+', 'COUNT', count);
    return entries.map(toItem);
  }

  async lastId(app: string): Promise<string | null> {
    const [last] = await this.redis.xrevrange(feedbackKeys.feed(this.prefix, app), '+', '-', 'COUNT', 1);
    return last?.[0] ?? null;
  }

  async cursor(app: string): Promise<string | null> {
    return this.redis.get(feedbackKeys.webhookCursor(this.prefix, app));
  }

  /** Whether the feed has entries the webhook has not delivered yet. */
  async hasUndelivered(app: string): Promise<boolean> {
    const [last, cursor] = await Promise.all([this.lastId(app), this.cursor(app)]);
    return last !== null && last !== cursor;
  }

  /** Compare-and-set; false when another job moved the cursor first. */
  async advance(app: string, from: string | null, to: string): Promise<boolean> {
    return (await this.runAdvance(app, from, to)) === 1;
  }

  /** Records a batch that failed every attempt and moves the cursor past it, atomically. */
  async deadLetter(app: string, letter: DeadLetter): Promise<boolean> {
    return (await this.runAdvance(app, letter.from, letter.to, JSON.stringify(letter))) === 1;
  }

  async deadLetters(app: string, count = 100): Promise<DeadLetter[]> {
    const raw = await this.redis.lrange(feedbackKeys.webhookDeadLetters(this.prefix, app), 0, count - 1);
    return raw.map((r) => JSON.parse(r) as DeadLetter);
  }

  private runAdvance(app: string, from: string | null, to: string, letter?: string): Promise<unknown> {
    const args = [from ?? '', to, ...(letter === undefined ? [] : [letter])];
    return this.redis.eval(
      advanceScript,
      2,
      feedbackKeys.webhookCursor(this.prefix, app),
      feedbackKeys.webhookDeadLetters(this.prefix, app),
      ...args,
    );
  }
}
