import type { DeviceRegistration, Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { appSpace } from './ledger/keys.ts';

/**
 * Registry keys: in the app's space, per environment, so a sandbox token never reaches
 * production. `indexBase` is where the user:/tag: index sets hang (the scripts build those names).
 */
export const deviceKeys = {
  device: (prefix: string, app: string, env: Environment, token: string) =>
    `${appSpace(prefix, app)}:device:${env}:${token}`,
  indexBase: (prefix: string, app: string, env: Environment) => `${appSpace(prefix, app)}:devices:${env}:`,
  all: (prefix: string, app: string, env: Environment) => `${deviceKeys.indexBase(prefix, app, env)}all`,
  user: (prefix: string, app: string, env: Environment, userId: string) =>
    `${deviceKeys.indexBase(prefix, app, env)}user:${userId}`,
  tag: (prefix: string, app: string, env: Environment, tag: string) =>
    `${deviceKeys.indexBase(prefix, app, env)}tag:${tag}`,
};

export interface DeviceInput {
  token: string;
  environment: Environment;
  userId?: string | undefined;
  tags?: string[] | undefined;
  locale?: string | undefined;
}

/**
 * Register (or refresh) atomically: the old user/tag index entries go, the new ones come, in
 * one script, so indexes never point at a registration that says otherwise.
 * KEYS: device hash, all-set. ARGV: indexBase, token, registeredAt, userId, tagsJson, locale, environment.
 */
const registerScript = `
local base = ARGV[1]
local token = ARGV[2]
local oldUser = redis.call('HGET', KEYS[1], 'userId')
local oldTags = redis.call('HGET', KEYS[1], 'tags')
if oldUser and oldUser ~= '' then redis.call('SREM', base .. 'user:' .. oldUser, token) end
if oldTags then
  for _, tag in ipairs(cjson.decode(oldTags)) do redis.call('SREM', base .. 'tag:' .. tag, token) end
end
redis.call('HSET', KEYS[1], 'registeredAt', ARGV[3], 'userId', ARGV[4], 'tags', ARGV[5], 'locale', ARGV[6], 'environment', ARGV[7])
redis.call('SADD', KEYS[2], token)
if ARGV[4] ~= '' then redis.call('SADD', base .. 'user:' .. ARGV[4], token) end
for _, tag in ipairs(cjson.decode(ARGV[5])) do redis.call('SADD', base .. 'tag:' .. tag, token) end
return 1
`;

/** KEYS: device hash, all-set. ARGV: indexBase, token. Returns 1 when a registration was removed. */
export const unregisterScript = `
local base = ARGV[1]
local token = ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local oldUser = redis.call('HGET', KEYS[1], 'userId')
local oldTags = redis.call('HGET', KEYS[1], 'tags')
if oldUser and oldUser ~= '' then redis.call('SREM', base .. 'user:' .. oldUser, token) end
if oldTags then
  for _, tag in ipairs(cjson.decode(oldTags)) do redis.call('SREM', base .. 'tag:' .. tag, token) end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], token)
return 1
`;

/**
 * Device registry (Apple's flow: the app registers, gets its token, hands it to the provider).
 * Tokens are stored normalised (lower-case hex); callers validate them first.
 */
export class DeviceRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private indexBase(app: string, env: Environment): string {
    return deviceKeys.indexBase(this.prefix, app, env);
  }

  /** The register script's keys and arguments for one registration. */
  private registerCall(
    app: string,
    input: DeviceInput,
    tags: string[],
    now: number,
  ): [string, number, ...(string | number)[]] {
    return [
      registerScript,
      2,
      deviceKeys.device(this.prefix, app, input.environment, input.token),
      deviceKeys.all(this.prefix, app, input.environment),
      this.indexBase(app, input.environment),
      input.token,
      now,
      input.userId ?? '',
      JSON.stringify(tags),
      input.locale ?? '',
      input.environment,
    ];
  }

  async register(app: string, input: DeviceInput, now = Date.now()): Promise<DeviceRegistration> {
    const tags = [...new Set(input.tags ?? [])];
    await this.redis.eval(...this.registerCall(app, input, tags, now));
    return {
      token: input.token,
      app,
      environment: input.environment,
      userId: input.userId ?? null,
      tags,
      locale: input.locale ?? null,
      registeredAt: new Date(now).toISOString(),
    };
  }

  /** Many registrations in one pipeline (bulk import); each one is still atomic on its own. */
  async registerMany(app: string, inputs: DeviceInput[], now = Date.now()): Promise<void> {
    if (inputs.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const input of inputs) {
      pipeline.eval(...this.registerCall(app, input, [...new Set(input.tags ?? [])], now));
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async unregister(app: string, env: Environment, token: string): Promise<boolean> {
    const removed = await this.redis.eval(
      unregisterScript,
      2,
      deviceKeys.device(this.prefix, app, env, token),
      deviceKeys.all(this.prefix, app, env),
      this.indexBase(app, env),
      token,
    );
    return removed === 1;
  }

  async get(app: string, env: Environment, token: string): Promise<DeviceRegistration | null> {
    const hash = await this.redis.hgetall(deviceKeys.device(this.prefix, app, env, token));
    if (!hash.registeredAt) return null;
    return {
      token,
      app,
      environment: env,
      userId: hash.userId || null,
      tags: hash.tags ? (JSON.parse(hash.tags) as string[]) : [],
      locale: hash.locale || null,
      registeredAt: new Date(Number(hash.registeredAt)).toISOString(),
    };
  }

  /** The index sets an audience reads: every device, or the union of users' / tags' devices. */
  audienceKeys(
    app: string,
    env: Environment,
    audience: { kind: 'all' } | { kind: 'users'; userIds: string[] } | { kind: 'tags'; tags: string[] },
  ): string[] {
    switch (audience.kind) {
      case 'all':
        return [deviceKeys.all(this.prefix, app, env)];
      case 'users':
        return audience.userIds.map((u) => deviceKeys.user(this.prefix, app, env, u));
      case 'tags':
        return audience.tags.map((t) => deviceKeys.tag(this.prefix, app, env, t));
    }
  }

  /**
   * Size of the largest index set of an audience: a lower bound of the audience's size, read
   * without pulling any member (a campaign over its cap is refused before it is accepted).
   */
  async largestIndex(
    app: string,
    env: Environment,
    audience: { kind: 'all' } | { kind: 'users'; userIds: string[] } | { kind: 'tags'; tags: string[] },
  ): Promise<number> {
    const keys = this.audienceKeys(app, env, audience);
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.scard(key);
    const sizes = (await pipeline.exec()) ?? [];
    return sizes.reduce((max, [err, n]) => (err ? max : Math.max(max, Number(n))), 0);
  }

  /** Small audiences (single notifications): the union, or null if it has more than `max` tokens. */
  async resolve(
    app: string,
    env: Environment,
    audience: { kind: 'users'; userIds: string[] } | { kind: 'tags'; tags: string[] },
    max: number,
  ): Promise<string[] | null> {
    const keys = this.audienceKeys(app, env, audience);
    if (keys.length === 0) return [];
    const sizes = await Promise.all(keys.map((k) => this.redis.scard(k)));
    // Any one index over the limit makes the union too big: refuse before pulling it into memory.
    // Otherwise the union is at most keys × max (keys are capped by validation).
    if (sizes.some((n) => n > max)) return null;
    const union = await this.redis.sunion(...keys);
    if (union.length > max) return null;
    return union.sort();
  }
}

export type { DeviceRegistration };
