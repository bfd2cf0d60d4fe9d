import {
  type CampaignAudienceKind,
  type CampaignState,
  type CampaignStatus,
  type Environment,
  reasonTable,
} from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { notificationTtlSeconds, storeKeys } from './keys.ts';

/**
 * A campaign IS a notification record (the campaign id is the notificationId of its deliver
 * jobs), so delivery outcomes land in the same hash; these keys hold what only campaigns have.
 */
export const campaignKeys = {
  /** The audience, materialised as a list the fan-out pages through by offset. */
  tokens: (prefix: string, id: string) => `${prefix}:campaign:${id}:tokens`,
  /** Dedup set used while a registry audience (tags, users) is materialised. */
  seen: (prefix: string, id: string) => `${prefix}:campaign:${id}:seen`,
  /** Campaign ids of an app by creation time, for listing. */
  index: (prefix: string, app: string) => `${prefix}:campaigns:${app}`,
};

export interface CampaignRecordInput {
  id: string;
  app: string;
  environment: Environment;
  name?: string | undefined;
  audience: CampaignAudienceKind;
  /** Known up front for uploads; registry audiences learn it when materialised. */
  total?: number | undefined;
  sendAt?: number | undefined;
  ratePerSecond?: number | undefined;
}

/** Raises accepted/queued to `offset` (never lowers: a resumed fan-out may replay a page). */
const progressScript = `
local current = tonumber(redis.call('HGET', KEYS[1], 'queued') or '0')
if tonumber(ARGV[1]) > current then
  redis.call('HSET', KEYS[1], 'queued', ARGV[1], 'accepted', ARGV[1])
end
redis.call('HSETNX', KEYS[1], 'startedAt', ARGV[2])
return 1
`;

/**
 * Ends the fan-out once: accepted becomes the total, tokens never expanded (a cancel) count as
 * cancelled, fanoutDone flips. KEYS: hash, tokens list, seen set. ARGV: total, now.
 */
const finishScript = `
if redis.call('HGET', KEYS[1], 'fanoutDone') == '1' then return 0 end
local total = tonumber(ARGV[1])
local queued = tonumber(redis.call('HGET', KEYS[1], 'queued') or '0')
if total > queued then redis.call('HINCRBY', KEYS[1], 'cancelled', total - queued) end
redis.call('HSET', KEYS[1], 'total', total, 'accepted', total, 'fanoutDone', '1')
redis.call('HSETNX', KEYS[1], 'startedAt', ARGV[2])
local finished = 0
for _, f in ipairs({'delivered', 'rejected', 'failed', 'expired', 'cancelled'}) do
  finished = finished + tonumber(redis.call('HGET', KEYS[1], f) or '0')
end
if finished >= total then redis.call('HSET', KEYS[1], 'lastOutcomeAt', ARGV[2]) end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
`;

/** Appends tokens not seen before (registry audiences may overlap: a device with two tags). */
const appendUniqueScript = `
local added = 0
for i = 1, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    added = added + 1
  end
end
return added
`;

export class CampaignStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private hashKey(id: string): string {
    return storeKeys.notification(this.prefix, id);
  }

  tokensKey(id: string): string {
    return campaignKeys.tokens(this.prefix, id);
  }

  /** How long the record must live: a week past its send time. */
  private ttlSeconds(sendAt: number | undefined, now: number): number {
    return notificationTtlSeconds + Math.max(0, Math.ceil(((sendAt ?? now) - now) / 1000));
  }

  /** Starts a fresh upload (a retried upload with the same deterministic id starts over). */
  async resetAudience(id: string): Promise<void> {
    await this.redis.del(this.tokensKey(id), campaignKeys.seen(this.prefix, id));
  }

  /** One RPUSH of a chunk of validated, normalised tokens; the list lives a week unless fanned out. */
  async appendTokens(id: string, tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    const key = this.tokensKey(id);
    await this.redis
      .multi()
      .rpush(key, ...tokens)
      .expire(key, notificationTtlSeconds)
      .exec();
  }

  /** Appends only tokens not yet in the audience; returns how many were added. */
  async appendUniqueTokens(id: string, tokens: string[]): Promise<number> {
    if (tokens.length === 0) return 0;
    return (await this.redis.eval(
      appendUniqueScript,
      2,
      this.tokensKey(id),
      campaignKeys.seen(this.prefix, id),
      ...tokens,
    )) as number;
  }

  async audienceLength(id: string): Promise<number> {
    return this.redis.llen(this.tokensKey(id));
  }

  async readTokens(id: string, offset: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.tokensKey(id), offset, offset + count - 1);
  }

  async create(input: CampaignRecordInput, now = Date.now()): Promise<void> {
    const key = this.hashKey(input.id);
    const fields: Record<string, string | number> = {
      kind: 'campaign',
      app: input.app,
      environment: input.environment,
      audience: input.audience,
      accepted: 0,
      queued: 0,
      fanoutDone: '0',
      createdAt: now,
    };
    if (input.name !== undefined) fields.name = input.name;
    if (input.total !== undefined) fields.total = input.total;
    if (input.sendAt !== undefined) fields.sendAt = input.sendAt;
    if (input.ratePerSecond !== undefined) fields.rate = input.ratePerSecond;
    const ttl = this.ttlSeconds(input.sendAt, now);
    await this.redis
      .multi()
      .hset(key, fields)
      .expire(key, ttl)
      .zadd(campaignKeys.index(this.prefix, input.app), now, input.id)
      .expire(this.tokensKey(input.id), ttl)
      .exec();
  }

  /** Removes a campaign that could not be enqueued (the caller answers 503). */
  async remove(id: string, app: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.hashKey(id), this.tokensKey(id), campaignKeys.seen(this.prefix, id))
      .zrem(campaignKeys.index(this.prefix, app), id)
      .exec();
  }

  async setTotal(id: string, total: number): Promise<void> {
    await this.redis.hset(this.hashKey(id), 'total', total);
  }

  async recordProgress(id: string, queued: number, now = Date.now()): Promise<void> {
    await this.redis.eval(progressScript, 1, this.hashKey(id), queued, now);
  }

  /** Returns false when the fan-out had already finished (a re-run after a crash). */
  async finishFanout(id: string, total: number, now = Date.now()): Promise<boolean> {
    const done = await this.redis.eval(
      finishScript,
      3,
      this.hashKey(id),
      this.tokensKey(id),
      campaignKeys.seen(this.prefix, id),
      total,
      now,
    );
    return done === 1;
  }

  async get(id: string, now = Date.now()): Promise<CampaignStatus | null> {
    const hash = await this.redis.hgetall(this.hashKey(id));
    if (hash.kind !== 'campaign' || !hash.app) return null;
    const n = (field: string) => Number(hash[field] ?? 0);
    const time = (field: string) => (hash[field] ? new Date(n(field)).toISOString() : null);
    const rejected: Record<string, number> = {};
    const failedReasons: Record<string, number> = {};
    let invalidated = 0;
    for (const [field, value] of Object.entries(hash)) {
      if (!field.startsWith('reason:')) continue;
      const reason = field.slice('reason:'.length);
      // Reason fields hold rejections and failures alike; the reason table tells them apart.
      const action =
        reason in reasonTable ? reasonTable[reason as keyof typeof reasonTable].action : 'reject';
      if (action === 'reject' || action === 'invalidate-token') rejected[reason] = Number(value);
      else failedReasons[reason] = Number(value);
      if (action === 'invalidate-token') invalidated += Number(value);
    }
    const failed = n('failed');
    const accepted = n('accepted');
    const finished = n('delivered') + n('rejected') + failed + n('expired') + n('cancelled');
    const fanoutDone = hash.fanoutDone === '1';
    const allIn = fanoutDone && finished >= accepted;
    let state: CampaignState;
    if (hash.cancelledAt) state = allIn ? 'cancelled' : 'cancelling';
    else if (allIn) state = 'done';
    else if (hash.startedAt) state = 'running';
    else if (hash.sendAt && n('sendAt') > now) state = 'scheduled';
    else state = 'queued';
    return {
      id,
      app: hash.app,
      environment: hash.environment as Environment,
      name: hash.name ?? null,
      audience: (hash.audience ?? 'upload') as CampaignAudienceKind,
      state,
      total: hash.total === undefined ? null : n('total'),
      queued: n('queued'),
      accepted,
      delivered: n('delivered'),
      rejected,
      failed,
      failedReasons,
      // Workers count invalidations directly; older records only have the reasons.
      invalidated: hash.invalidated === undefined ? invalidated : n('invalidated'),
      expired: n('expired'),
      cancelled: n('cancelled'),
      ratePerSecond: hash.rate ? n('rate') : null,
      createdAt: new Date(n('createdAt')).toISOString(),
      sendAt: time('sendAt'),
      startedAt: time('startedAt'),
      cancelledAt: time('cancelledAt'),
      finishedAt: allIn ? (time('lastOutcomeAt') ?? time('cancelledAt')) : null,
    };
  }

  /** Newest first; `before` is a creation time (ms) cursor. */
  async list(
    app: string,
    options: { limit: number; before?: number | undefined },
  ): Promise<{ items: CampaignStatus[]; next: number | null }> {
    const max = options.before === undefined ? '+inf' : `(${options.before}`;
    const ids = await this.redis.zrevrangebyscore(
      campaignKeys.index(this.prefix, app),
      max,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      options.limit,
    );
    const items: CampaignStatus[] = [];
    let last: number | null = null;
    for (let i = 0; i < ids.length; i += 2) {
      last = Number(ids[i + 1]);
      const status = await this.get(ids[i]!);
      if (status) items.push(status);
    }
    return { items, next: ids.length / 2 === options.limit ? last : null };
  }
}

export type { CampaignAudienceKind, CampaignState, CampaignStatus };
