import {
  type AppDirectory,
  type AppEntry,
  type Config,
  type CredentialMaterial,
  readConfigCredentials,
} from '@pushfleet/config';
import type { Redis } from 'ioredis';
import { credentialsAad, type SealedMaterial, webhookSecretAad } from './app-registry.ts';
import { credentialDescriptor, effectiveSettings, type RegistryRecord } from './app-registry-schema.ts';
import { type Envelope, openEnvelope } from './envelope.ts';
import { checkKeyEncryptionKey } from './kek-check.ts';
import { registryKeys } from './registry-keys.ts';

export interface RedisAppDirectoryOptions {
  /** Commands: the version poll, reloads, credential reads. Shared with the rest of the process. */
  redis: Redis;
  /**
   * The connection that SUBSCRIBEs (a subscribed connection takes no other commands): one per
   * process. Default: `redis.duplicate()`, its errors reported through `onError` (so they are
   * logged like every other connection's), closed by `close()`; a given one is left open.
   */
  subscriber?: Redis;
  prefix: string;
  /** The process's config: its apps are always there, read-only, and win over a registry app of the same id. */
  config: Pick<Config, 'apps'>;
  /** The key-encryption key (`loadKeyEncryptionKey`); checked against the registry at open. */
  kek?: Buffer | undefined;
  /** Version poll interval (`appRegistry.pollMs`): a missed message is caught within about two. */
  pollMs?: number;
  /** Problems that do not stop the directory (Redis away during a refresh, a record it cannot read). */
  onError?: (err: Error, context: string) => void;
}

export interface RedisAppDirectory extends AppDirectory {
  /** The registry version the snapshot reflects. */
  version(): number;
  /** Reloads now if the registry moved on (tests, and the backstop's own work). */
  refresh(): Promise<void>;
}

/**
 * The apps a process serves: its config file's ∪ the registry's, as an in-memory snapshot.
 * Opening checks the key-encryption key (PF_ERR_CONFIG when wrong or missing), loads the
 * registry, subscribes to its change channel and starts the version poll.
 *
 * Kept current by the change messages — each names the app that changed and the registry
 * version it made; the directory re-reads just those apps — and, as the backstop for a message
 * lost (a reconnect, a crash between write and publish), by one GET of the version every
 * `pollMs`: behind for two polls in a row, it reloads every record. Idle cost is that GET and one
 * subscribed connection, whatever the number of apps; the full reload only on a gap.
 */
export async function openAppDirectory(options: RedisAppDirectoryOptions): Promise<RedisAppDirectory> {
  await checkKeyEncryptionKey(options.redis, options.prefix, options.kek);
  const directory = new Directory(options);
  try {
    await directory.start();
  } catch (err) {
    await directory.close();
    throw err;
  }
  return directory;
}

interface Change {
  version: number;
  ids: string[];
}

class Directory implements RedisAppDirectory {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly ownSubscriber: boolean;
  private readonly prefix: string;
  private readonly kek: Buffer | undefined;
  private readonly pollMs: number;
  private readonly onError: (err: Error, context: string) => void;
  private readonly configEntries: Map<string, AppEntry>;
  private readonly registry = new Map<string, AppEntry>();
  private readonly listeners = new Set<(changed: string[]) => void>();
  private synced = 0;
  /** A version the poll saw ahead of the snapshot; still ahead at the next poll: a reload. */
  private behind: number | undefined;
  private work: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly onMessage = (channel: string, text: string) => {
    if (channel !== registryKeys.changes(this.prefix)) return;
    let change: Change;
    try {
      change = JSON.parse(text) as Change;
    } catch {
      return;
    }
    this.enqueue('change message', () => this.applyChange(change));
  };
  private readonly onReconnect = () => this.enqueue('resubscribe', () => this.reloadIfBehind());

  constructor(options: RedisAppDirectoryOptions) {
    this.redis = options.redis;
    this.onError = options.onError ?? (() => undefined);
    this.ownSubscriber = options.subscriber === undefined;
    this.subscriber = options.subscriber ?? options.redis.duplicate();
    // Without a listener ioredis prints its errors to stderr, which breaks JSON-only logs.
    if (this.ownSubscriber) this.subscriber.on('error', (err) => this.onError(err, 'subscriber connection'));
    this.prefix = options.prefix;
    this.kek = options.kek;
    this.pollMs = options.pollMs ?? 2000;
    this.configEntries = new Map(
      Object.entries(options.config.apps).map(([id, config]) => [
        id,
        { id, config, source: 'config' as const, state: 'active' as const, revision: 'config' },
      ]),
    );
  }

  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    // Subscribe before loading: a change between the two is then a message, never lost.
    await this.subscriber.subscribe(registryKeys.changes(this.prefix));
    await this.enqueue('load', () => this.fullReload(false), true);
    // Messages sent while the subscriber reconnects are lost: catch up as soon as it is back.
    this.subscriber.on('ready', this.onReconnect);
    this.timer = setInterval(() => this.enqueue('version poll', () => this.poll()), this.pollMs);
    this.timer.unref();
  }

  get(app: string): AppEntry | undefined {
    return this.configEntries.get(app) ?? this.registry.get(app);
  }

  ids(): string[] {
    const ids = new Set([...this.configEntries.keys(), ...this.registry.keys()]);
    return [...ids];
  }

  version(): number {
    return this.synced;
  }

  async credentials(app: string): Promise<CredentialMaterial> {
    const entry = this.get(app);
    if (!entry) throw new Error(`unknown app ${app}`);
    if (entry.source === 'config') return readConfigCredentials(entry.config);
    const raw = await this.redis.hget(registryKeys.secrets(this.prefix), app);
    if (!raw) throw new Error(`app ${app} has no stored credentials`);
    if (!this.kek)
      throw new Error(`the credentials of app ${app} are sealed and this process has no key-encryption key`);
    let stored: SealedMaterial;
    try {
      stored = JSON.parse(
        openEnvelope(this.kek, JSON.parse(raw) as Envelope, credentialsAad(app)).toString(),
      );
    } catch (err) {
      throw new Error(`the credentials of app ${app} ${(err as Error).message}`);
    }
    if (stored.type === 'token') return stored;
    const { pfx, ...rest } = stored;
    return { ...rest, ...(pfx !== undefined && { pfx: Buffer.from(pfx, 'base64') }) };
  }

  onChange(listener: (changed: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  refresh(): Promise<void> {
    return this.enqueue('refresh', () => this.reloadIfBehind(), true);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      this.subscriber.off('message', this.onMessage);
      this.subscriber.off('ready', this.onReconnect);
      await this.work;
      if (this.ownSubscriber) this.subscriber.disconnect();
      else await this.subscriber.unsubscribe(registryKeys.changes(this.prefix)).catch(() => undefined);
      this.listeners.clear();
    })();
    return this.closing;
  }

  /** One refresh at a time, in arrival order; failures are reported, the snapshot stays. */
  private enqueue(context: string, task: () => Promise<void>, rethrow = false): Promise<void> {
    const run = this.work.then(() => (this.closing ? undefined : task()));
    this.work = run.catch((err: Error) => this.onError(err, context));
    return rethrow ? run : this.work;
  }

  private async applyChange(change: Change): Promise<void> {
    if (change.version <= this.synced) return;
    if (change.version !== this.synced + 1) {
      // A message went missing: what changed in between is unknown.
      await this.fullReload(true);
      return;
    }
    const raws = await this.redis.hmget(registryKeys.apps(this.prefix), ...change.ids);
    const changed: string[] = [];
    change.ids.forEach((id, i) => {
      if (this.applyRecord(id, raws[i] ?? null)) changed.push(id);
    });
    this.synced = change.version;
    this.emit(changed);
  }

  private async poll(): Promise<void> {
    const version = Number((await this.redis.get(registryKeys.version(this.prefix))) ?? 0);
    if (version <= this.synced) {
      this.behind = undefined;
      return;
    }
    // Its message may just be on its way: reload only if still behind at the next poll.
    if (this.behind !== undefined && this.synced < this.behind) await this.fullReload(true);
    else this.behind = version;
  }

  private async reloadIfBehind(): Promise<void> {
    const version = Number((await this.redis.get(registryKeys.version(this.prefix))) ?? 0);
    if (version !== this.synced) await this.fullReload(true);
  }

  private async fullReload(notify: boolean): Promise<void> {
    const result = await this.redis
      .multi()
      .get(registryKeys.version(this.prefix))
      .hgetall(registryKeys.apps(this.prefix))
      .exec();
    const [[versionErr, version], [appsErr, apps]] = result as [
      [Error | null, string | null],
      [Error | null, Record<string, string>],
    ];
    if (versionErr || appsErr) throw versionErr ?? appsErr;
    const changed: string[] = [];
    for (const id of this.registry.keys()) {
      if (!(id in apps) && this.applyRecord(id, null)) changed.push(id);
    }
    for (const [id, raw] of Object.entries(apps)) {
      if (this.applyRecord(id, raw)) changed.push(id);
    }
    this.synced = Number(version ?? 0);
    this.behind = undefined;
    if (notify) this.emit(changed.sort());
  }

  /** Applies one record (null: gone); true when the app's entry changed for a listener. */
  private applyRecord(id: string, raw: string | null): boolean {
    const before = this.registry.get(id);
    const after = raw === null ? undefined : this.entryOf(id, raw);
    if (after) this.registry.set(id, after);
    else this.registry.delete(id);
    if (this.configEntries.has(id)) return false; // config apps win; the registry cannot touch them
    return before?.revision !== after?.revision || before?.state !== after?.state;
  }

  private entryOf(id: string, raw: string): AppEntry | undefined {
    try {
      const record = JSON.parse(raw) as RegistryRecord;
      let secret: string | undefined;
      if (record.webhookSecret) {
        if (!this.kek)
          throw new Error('its webhook secret is sealed and this process has no key-encryption key');
        secret = openEnvelope(this.kek, record.webhookSecret, webhookSecretAad(id)).toString();
      }
      const settings = effectiveSettings(record, secret);
      return {
        id,
        config: { ...settings, credentials: credentialDescriptor(record.credentials) },
        source: 'registry',
        state: record.state,
        revision: record.revision,
      };
    } catch (err) {
      this.onError(new Error(`registry app ${id} is left out: ${(err as Error).message}`), 'registry record');
      return undefined;
    }
  }

  private emit(changed: string[]): void {
    if (changed.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changed);
      } catch (err) {
        this.onError(err as Error, 'onChange listener');
      }
    }
  }
}

/** What a process logs through (pino's shape, without depending on it). */
export interface DirectoryLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The directory as a worker or scheduler opens it: options from the process's config, problems
 * logged as warnings, and each change as one line naming the first 50 apps with their new state.
 */
export async function openLoggedAppDirectory(options: {
  redis: Redis;
  config: Pick<Config, 'apps' | 'appRegistry' | 'redis'>;
  kek: Buffer | undefined;
  log: DirectoryLog;
}): Promise<RedisAppDirectory> {
  const { config, log } = options;
  const directory = await openAppDirectory({
    redis: options.redis,
    prefix: config.redis.prefix,
    config,
    kek: options.kek,
    pollMs: config.appRegistry.pollMs,
    onError: (err, context) => log.warn({ err, context }, 'app directory'),
  });
  directory.onChange((apps) =>
    log.info(
      {
        changed: apps.length,
        apps: apps.slice(0, 50).map((id) => ({ app: id, state: directory.get(id)?.state ?? 'deleted' })),
      },
      'apps changed',
    ),
  );
  return directory;
}
