import { type ChannelRecord, type Environment, environments } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { appSpace } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

/** Keys of the broadcast channels Pushfleet manages for an app (docs/apns-protocol.md §F.3). */
export const channelKeys = {
  /** Hash: the producer's name → the channel's record (JSON). */
  names: (prefix: string, app: string) => `${appSpace(prefix, app)}:channels`,
  /** Hash: APNs' channel id → name, per environment (ids are only unique within one). */
  ids: (prefix: string, app: string, env: Environment) => `${appSpace(prefix, app)}:channel-ids:${env}`,
};

export type ChannelAdd = { kind: 'added'; record: ChannelRecord } | { kind: 'exists'; record: ChannelRecord };

const maxAttempts = 10;

/**
 * The channels Pushfleet manages: a producer's name for each (unique per app, whatever the
 * environment) → `{ channelId, environment, storagePolicy, metadata, createdAt }`, with the way
 * back from APNs' id. Creating a channel is two steps — APNs makes it, then it is stored here —
 * so `add` refuses a name already taken (`exists`); the caller then deletes the channel it just
 * made at APNs (two producers raced for one name), so no channel is left without a name.
 */
export class ChannelStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Stores a channel APNs made under the producer's name, unless the name is taken. */
  async add(app: string, record: ChannelRecord): Promise<ChannelAdd> {
    const existing = (await runScript(
      this.redis,
      'channel-add',
      [channelKeys.names(this.prefix, app), channelKeys.ids(this.prefix, app, record.environment)],
      [record.name, JSON.stringify(record), record.channelId],
    )) as string;
    return existing === ''
      ? { kind: 'added', record }
      : { kind: 'exists', record: JSON.parse(existing) as ChannelRecord };
  }

  async get(app: string, name: string): Promise<ChannelRecord | null> {
    const raw = await this.redis.hget(channelKeys.names(this.prefix, app), name);
    return raw ? (JSON.parse(raw) as ChannelRecord) : null;
  }

  /** The channel with this APNs id in this environment, if Pushfleet manages it. */
  async byChannelId(app: string, env: Environment, channelId: string): Promise<ChannelRecord | null> {
    const name = await this.redis.hget(channelKeys.ids(this.prefix, app, env), channelId);
    if (!name) return null;
    const record = await this.get(app, name);
    return record?.channelId === channelId && record.environment === env ? record : null;
  }

  /**
   * Every channel of the app (optionally of one environment), oldest first. At most APNs' limit
   * per environment (10,000), so one read.
   */
  async list(app: string, env?: Environment): Promise<ChannelRecord[]> {
    const all = Object.values(await this.redis.hgetall(channelKeys.names(this.prefix, app))).map(
      (raw) => JSON.parse(raw) as ChannelRecord,
    );
    return all
      .filter((r) => env === undefined || r.environment === env)
      .sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Forgets a channel by name (after APNs deleted it, or said it does not know it). Returns what was removed. */
  async remove(app: string, name: string): Promise<ChannelRecord | null> {
    return this.removeIf(app, name, () => true);
  }

  /**
   * Forgets the channel with this APNs id: what the worker calls when a broadcast was answered
   * ChannelNotRegistered. Returns what was removed.
   */
  async removeByChannelId(app: string, env: Environment, channelId: string): Promise<ChannelRecord | null> {
    const name = await this.redis.hget(channelKeys.ids(this.prefix, app, env), channelId);
    if (!name) return null;
    return this.removeIf(app, name, (r) => r.channelId === channelId && r.environment === env);
  }

  private async removeIf(
    app: string,
    name: string,
    matches: (record: ChannelRecord) => boolean,
  ): Promise<ChannelRecord | null> {
    const namesKey = channelKeys.names(this.prefix, app);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(namesKey, name);
      if (!raw) return null;
      const record = JSON.parse(raw) as ChannelRecord;
      if (!matches(record) || !environments.includes(record.environment)) return null;
      const done = await runScript(
        this.redis,
        'channel-remove',
        [namesKey, channelKeys.ids(this.prefix, app, record.environment)],
        [name, raw, record.channelId],
      );
      if (done === 1) return record;
      if (done === -1) return null;
    }
    throw new Error('channel changed concurrently too often; retry');
  }
}
