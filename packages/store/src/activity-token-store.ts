import type { Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { appSpace } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

/**
 * Keys of running Live Activities' update tokens (docs/apns-protocol.md §H.3), in the app's
 * space, per environment. Activity ids are the producer's (the app reports its activity's id
 * with the token); they and user ids are checked by the caller: no whitespace or ':'.
 */
export const activityTokenKeys = {
  /** Hash: token, userId, attributesType, registeredAt, updatedAt. */
  activity: (prefix: string, app: string, env: Environment, activityId: string) =>
    `${appSpace(prefix, app)}:la:activity:${env}:${activityId}`,
  /** String: token → the activity it currently updates (what a 410 is traced back with). */
  token: (prefix: string, app: string, env: Environment, token: string) =>
    `${appSpace(prefix, app)}:la:activity-token:${env}:${token}`,
  /** Set: a user's activity ids. */
  user: (prefix: string, app: string, env: Environment, userId: string) =>
    `${appSpace(prefix, app)}:la:activity-user:${env}:${userId}`,
};

/**
 * How long an activity's record lives after its last token registration: a Live Activity runs
 * for at most 8 hours and then stays on the Lock Screen for at most 4 more, so after 12 hours no
 * update can reach it and the record would only be garbage.
 */
export const defaultActivityTtlSeconds = 12 * 3600;

export interface ActivityTokenInput {
  environment: Environment;
  activityId: string;
  /** Hex, normalised (lower case) by the caller. */
  token: string;
  userId?: string | undefined;
  attributesType?: string | undefined;
}

export interface ActivityRecord {
  app: string;
  environment: Environment;
  activityId: string;
  /** The current update token: the last one registered. */
  token: string;
  userId: string | null;
  attributesType: string | null;
  /** Milliseconds since the epoch: the first registration, and the last (a rotation). */
  registeredAt: number;
  updatedAt: number;
}

/** What a 410 for an activity token came to. */
export type ActivityTokenGone =
  /** The activity's record ended: its token is dead, and nothing else can update it. */
  | { kind: 'ended'; activity: ActivityRecord }
  /** The token was registered again after APNs' timestamp: it stays. */
  | { kind: 'kept'; activity: ActivityRecord }
  /** No activity has this token any more (rotated away, ended, or expired). */
  | { kind: 'not-found' };

const maxAttempts = 10;

/**
 * Per-activity update tokens: activity id → its current token. The app reports a new token when
 * the system rotates it; registering it replaces the old one (and the old token's pointer goes).
 * Lookup by activity id (the worker resolves an update's token at send time), by token (a 410),
 * and by user. Writes are compare-and-set scripts over keys named in KEYS.
 */
export class ActivityTokenStore {
  private readonly ttlSeconds: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    options: { ttlSeconds?: number } = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? defaultActivityTtlSeconds;
  }

  /** Registers an activity's token, or rotates it (the new one replaces the old). */
  async register(app: string, input: ActivityTokenInput, now = Date.now()): Promise<ActivityRecord> {
    const { environment: env, activityId, token } = input;
    const keys = activityTokenKeys;
    const activityKey = keys.activity(this.prefix, app, env, activityId);
    const userId = input.userId ?? '';
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = await this.redis.hgetall(activityKey);
      const oldToken = current.token ?? '';
      const oldUser = current.userId ?? '';
      // A rotation that names no user or type keeps the ones registered before.
      const user = input.userId === undefined ? oldUser : userId;
      const type = input.attributesType ?? current.attributesType ?? '';
      const done = await runScript(
        this.redis,
        'la-token-register',
        [
          activityKey,
          keys.token(this.prefix, app, env, token),
          oldToken ? keys.token(this.prefix, app, env, oldToken) : activityKey,
          user ? keys.user(this.prefix, app, env, user) : activityKey,
          oldUser ? keys.user(this.prefix, app, env, oldUser) : activityKey,
        ],
        [activityId, oldToken, oldUser, current.updatedAt ?? '', token, user, type, now, this.ttlSeconds],
      );
      if (done === 1) {
        return {
          app,
          environment: env,
          activityId,
          token,
          userId: user || null,
          attributesType: type || null,
          registeredAt: current.registeredAt ? Number(current.registeredAt) : now,
          updatedAt: now,
        };
      }
    }
    throw new Error('activity token changed concurrently too often; retry');
  }

  async get(app: string, env: Environment, activityId: string): Promise<ActivityRecord | null> {
    const hash = await this.redis.hgetall(activityTokenKeys.activity(this.prefix, app, env, activityId));
    return toRecord(app, env, activityId, hash);
  }

  /** The current token of each activity, in order (null: no such activity): one round trip for a batch. */
  async currentTokens(
    app: string,
    env: Environment,
    activityIds: readonly string[],
  ): Promise<(string | null)[]> {
    if (activityIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of activityIds)
      pipeline.hget(activityTokenKeys.activity(this.prefix, app, env, id), 'token');
    const results = (await pipeline.exec()) ?? [];
    return activityIds.map((_, i) => {
      const [err, token] = results[i] ?? [null, null];
      if (err) throw err;
      return typeof token === 'string' ? token : null;
    });
  }

  /** The activity a token currently updates, if any. */
  async activityOf(app: string, env: Environment, token: string): Promise<string | null> {
    return this.redis.get(activityTokenKeys.token(this.prefix, app, env, token));
  }

  /** A user's running activities (ids whose records expired are dropped from the index on the way). */
  async forUser(app: string, env: Environment, userId: string): Promise<ActivityRecord[]> {
    const userKey = activityTokenKeys.user(this.prefix, app, env, userId);
    const ids = (await this.redis.smembers(userKey)).sort();
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(activityTokenKeys.activity(this.prefix, app, env, id));
    const results = (await pipeline.exec()) ?? [];
    const records: ActivityRecord[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const [err, hash] = results[i] ?? [null, {}];
      if (err) throw err;
      const record = toRecord(app, env, id, hash as Record<string, string>);
      if (record?.userId === userId) records.push(record);
      else if (!record) stale.push(id);
    });
    if (stale.length > 0) await this.redis.srem(userKey, ...stale);
    return records;
  }

  /** Ends an activity's record (the producer ended it, or deletes it). True when there was one. */
  async end(app: string, env: Environment, activityId: string): Promise<boolean> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const record = await this.get(app, env, activityId);
      if (!record) return false;
      const result = await this.endIfUnchanged(app, env, record);
      if (result !== 0) return result === 1;
    }
    throw new Error('activity changed concurrently too often; retry');
  }

  /**
   * APNs answered 410 for an activity token at `invalidAt` (its timestamp, ms): the activity that
   * token updates has ended on the device, so its record ends, unless the token was registered
   * again after that moment (the feedback rule, docs/apns-protocol.md §A.10). A token that was
   * rotated away no longer names an activity: nothing changes. For the worker to call.
   */
  async tokenGone(
    app: string,
    env: Environment,
    token: string,
    invalidAt: number,
  ): Promise<ActivityTokenGone> {
    const pointer = activityTokenKeys.token(this.prefix, app, env, token);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const activityId = await this.redis.get(pointer);
      if (!activityId) return { kind: 'not-found' };
      const record = await this.get(app, env, activityId);
      if (!record || record.token !== token) {
        // A pointer left behind (its activity expired or moved on): drop it, if still the same.
        await runScript(this.redis, 'delete-if-equal', [pointer], [activityId]);
        return { kind: 'not-found' };
      }
      if (record.updatedAt > invalidAt) return { kind: 'kept', activity: record };
      const result = await this.endIfUnchanged(app, env, record);
      if (result === 1) return { kind: 'ended', activity: record };
      if (result === -1) return { kind: 'not-found' };
    }
    throw new Error('activity changed concurrently too often; retry');
  }

  /** 1 ended, 0 changed since read, -1 gone. */
  private async endIfUnchanged(app: string, env: Environment, record: ActivityRecord): Promise<number> {
    const activityKey = activityTokenKeys.activity(this.prefix, app, env, record.activityId);
    return Number(
      await runScript(
        this.redis,
        'la-token-end',
        [
          activityKey,
          activityTokenKeys.token(this.prefix, app, env, record.token),
          record.userId ? activityTokenKeys.user(this.prefix, app, env, record.userId) : activityKey,
        ],
        [record.activityId, record.token, record.userId ?? '', String(record.updatedAt)],
      ),
    );
  }
}

function toRecord(
  app: string,
  env: Environment,
  activityId: string,
  hash: Record<string, string>,
): ActivityRecord | null {
  if (!hash.token) return null;
  return {
    app,
    environment: env,
    activityId,
    token: hash.token,
    userId: hash.userId || null,
    attributesType: hash.attributesType || null,
    registeredAt: Number(hash.registeredAt),
    updatedAt: Number(hash.updatedAt),
  };
}
