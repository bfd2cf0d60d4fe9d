import type { Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { appSpace } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

/**
 * Push-to-start token keys (docs/apns-protocol.md §H.3), in the app's space, per environment and
 * attributes type (an app hands one token per `ActivityAttributes` type). Attributes types and
 * user ids are checked by core's schemas: no whitespace or ':'.
 */
export const pushToStartKeys = {
  /** Hash: token → record JSON (`{ userId, registeredAt }`). */
  tokens: (prefix: string, app: string, env: Environment, type: string) =>
    `${appSpace(prefix, app)}:la:start:${env}:${type}`,
  /** Set: the tokens of one user for one type. */
  user: (prefix: string, app: string, env: Environment, type: string, userId: string) =>
    `${appSpace(prefix, app)}:la:start:${env}:${type}:user:${userId}`,
};

export interface PushToStartInput {
  environment: Environment;
  attributesType: string;
  /** Hex, normalised (lower case) by the caller. */
  token: string;
  userId?: string | undefined;
}

export interface PushToStartRecord {
  app: string;
  environment: Environment;
  attributesType: string;
  token: string;
  userId: string | null;
  /** Milliseconds since the epoch: the last registration. */
  registeredAt: number;
}

interface Stored {
  userId: string;
  registeredAt: number;
}

/** Compare-and-set attempts before a write gives up (only ever needed under a write storm on one token). */
const maxAttempts = 10;

/**
 * Push-to-start tokens: what lets a provider start a Live Activity on a device where none runs
 * (`event: start`). One record per (app, environment, attributes type, token), with an optional
 * user id and a per-user index. Every write is one script that checks the record is still the
 * one read before it (compare-and-set), so the index never points at a registration that says
 * otherwise, and every key a script touches is named in its KEYS (Redis Cluster safe).
 */
export class PushToStartStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Registers or refreshes a token (a new user id moves it to that user). */
  async register(app: string, input: PushToStartInput, now = Date.now()): Promise<PushToStartRecord> {
    const { environment: env, attributesType: type, token } = input;
    const userId = input.userId ?? '';
    const tokensKey = pushToStartKeys.tokens(this.prefix, app, env, type);
    const record = JSON.stringify({ userId, registeredAt: now } satisfies Stored);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = (await this.redis.hget(tokensKey, token)) ?? '';
      const oldUser = raw ? (JSON.parse(raw) as Stored).userId : '';
      const done = await runScript(
        this.redis,
        'la-start-register',
        [
          tokensKey,
          userId ? pushToStartKeys.user(this.prefix, app, env, type, userId) : tokensKey,
          oldUser ? pushToStartKeys.user(this.prefix, app, env, type, oldUser) : tokensKey,
        ],
        [token, raw, record, userId, oldUser],
      );
      if (done === 1) {
        return {
          app,
          environment: env,
          attributesType: type,
          token,
          userId: userId || null,
          registeredAt: now,
        };
      }
    }
    throw new Error('push-to-start token changed concurrently too often; retry');
  }

  async get(app: string, env: Environment, type: string, token: string): Promise<PushToStartRecord | null> {
    const raw = await this.redis.hget(pushToStartKeys.tokens(this.prefix, app, env, type), token);
    return raw ? toRecord(app, env, type, token, raw) : null;
  }

  /** A user's tokens for one attributes type (a user may have several devices). */
  async forUser(app: string, env: Environment, type: string, userId: string): Promise<PushToStartRecord[]> {
    const tokens = (
      await this.redis.smembers(pushToStartKeys.user(this.prefix, app, env, type, userId))
    ).sort();
    if (tokens.length === 0) return [];
    const raws = await this.redis.hmget(pushToStartKeys.tokens(this.prefix, app, env, type), ...tokens);
    return tokens.flatMap((token, i) => {
      const raw = raws[i];
      return raw ? [toRecord(app, env, type, token, raw)] : [];
    });
  }

  /**
   * One page of every token of a type (HSCAN: constant memory however many there are; a token
   * registered or removed meanwhile may or may not show). Start with cursor '0'; '0' back = done.
   */
  async page(
    app: string,
    env: Environment,
    type: string,
    cursor = '0',
    count = 500,
  ): Promise<{ records: PushToStartRecord[]; cursor: string }> {
    const [next, flat] = await this.redis.hscan(
      pushToStartKeys.tokens(this.prefix, app, env, type),
      cursor,
      'COUNT',
      count,
    );
    const records: PushToStartRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      records.push(toRecord(app, env, type, flat[i]!, flat[i + 1]!));
    return { records, cursor: next };
  }

  async count(app: string, env: Environment, type: string): Promise<number> {
    return this.redis.hlen(pushToStartKeys.tokens(this.prefix, app, env, type));
  }

  /** Removes a token (the app said so, or the producer did). True when there was one. */
  async unregister(app: string, env: Environment, type: string, token: string): Promise<boolean> {
    return (await this.remove(app, env, type, token, undefined)) === 'removed';
  }

  /**
   * APNs answered 410 for this token at `invalidAt` (its timestamp, ms): the token goes, unless it
   * was registered again after that moment (the feedback rule, docs/apns-protocol.md §A.10).
   */
  async invalidate(
    app: string,
    env: Environment,
    type: string,
    token: string,
    invalidAt: number,
  ): Promise<'removed' | 'kept' | 'not-found'> {
    return this.remove(app, env, type, token, invalidAt);
  }

  private async remove(
    app: string,
    env: Environment,
    type: string,
    token: string,
    invalidAt: number | undefined,
  ): Promise<'removed' | 'kept' | 'not-found'> {
    const tokensKey = pushToStartKeys.tokens(this.prefix, app, env, type);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(tokensKey, token);
      if (!raw) return 'not-found';
      const stored = JSON.parse(raw) as Stored;
      if (invalidAt !== undefined && stored.registeredAt > invalidAt) return 'kept';
      const done = await runScript(
        this.redis,
        'la-start-remove',
        [
          tokensKey,
          stored.userId ? pushToStartKeys.user(this.prefix, app, env, type, stored.userId) : tokensKey,
        ],
        [token, raw, stored.userId],
      );
      if (done === 1) return 'removed';
      if (done === -1) return 'not-found';
    }
    throw new Error('push-to-start token changed concurrently too often; retry');
  }
}

function toRecord(
  app: string,
  env: Environment,
  type: string,
  token: string,
  raw: string,
): PushToStartRecord {
  const stored = JSON.parse(raw) as Stored;
  return {
    app,
    environment: env,
    attributesType: type,
    token,
    userId: stored.userId || null,
    registeredAt: stored.registeredAt,
  };
}
