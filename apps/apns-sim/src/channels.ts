import { randomBytes } from 'node:crypto';

/** Up to 10,000 channels per app in each environment (docs/apns-protocol.md §F.3). */
export const CHANNEL_LIMIT = 10_000;

/** 0 = No Message Stored (expiration must be 0), 1 = Most Recent Message Stored (§F.3). */
export type StoragePolicy = 0 | 1;

/** One accepted broadcast, as recorded for tests. */
export interface BroadcastRecord {
  /** The request's apns-request-id, or the one the simulator generated and answered with. */
  requestId: string;
  /** The apns-unique-id the simulator answered with. */
  uniqueId: string;
  /** The request's apns-* headers (authorization is left out). */
  headers: Record<string, string>;
  /** Parsed JSON of the body. */
  payload: unknown;
  /** The body exactly as received (UTF-8 text). */
  body: string;
  receivedAt: number;
}

export interface Channel {
  /** Base64 of 16 random bytes, as APNs answers in apns-channel-id. */
  id: string;
  bundleId: string;
  storagePolicy: StoragePolicy;
  createdAt: number;
  /** Set once deleted: the channel is gone for APNs but its history stays readable here. */
  deletedAt: number | undefined;
  broadcasts: BroadcastRecord[];
}

/**
 * Channels of this simulator's environment (one simulator is one environment, so a channel
 * created on a sandbox simulator is unknown to a production one, as channels cannot cross
 * environments), the per-app limit, and which apps have broadcast disabled.
 */
export class ChannelStore {
  private readonly byId = new Map<string, Channel>();
  /** Active channel ids per bundle id, in creation order. */
  private readonly active = new Map<string, Set<string>>();
  private readonly disabled = new Set<string>();
  created = 0;
  deleted = 0;
  broadcastsTotal = 0;

  constructor(readonly limit: number = CHANNEL_LIMIT) {}

  /** Creates a channel, or answers undefined when the app is at its limit. */
  create(bundleId: string, storagePolicy: StoragePolicy, now: number): Channel | undefined {
    let ids = this.active.get(bundleId);
    if (!ids) {
      ids = new Set();
      this.active.set(bundleId, ids);
    }
    if (ids.size >= this.limit) return undefined;
    let id = randomBytes(16).toString('base64');
    // Deleted ids are never handed out again (APNs: "the same channel ID can't be created again").
    while (this.byId.has(id)) id = randomBytes(16).toString('base64');
    const channel: Channel = {
      id,
      bundleId,
      storagePolicy,
      createdAt: now,
      deletedAt: undefined,
      broadcasts: [],
    };
    this.byId.set(id, channel);
    ids.add(id);
    this.created++;
    return channel;
  }

  /** The channel if it exists, is not deleted and belongs to `bundleId`. */
  activeChannel(bundleId: string, id: string): Channel | undefined {
    const channel = this.byId.get(id);
    if (!channel || channel.deletedAt !== undefined || channel.bundleId !== bundleId) return undefined;
    return channel;
  }

  delete(channel: Channel, now: number): void {
    if (channel.deletedAt !== undefined) return;
    channel.deletedAt = now;
    this.active.get(channel.bundleId)?.delete(channel.id);
    this.deleted++;
  }

  /** Active channel ids of an app, in creation order. */
  listActive(bundleId: string): string[] {
    return [...(this.active.get(bundleId) ?? [])];
  }

  activeCount(): number {
    let n = 0;
    for (const ids of this.active.values()) n += ids.size;
    return n;
  }

  /** Every channel ever created (deleted ones too), optionally of one app. */
  all(bundleId?: string): Channel[] {
    const out: Channel[] = [];
    for (const channel of this.byId.values())
      if (!bundleId || channel.bundleId === bundleId) out.push(channel);
    return out;
  }

  get(id: string): Channel | undefined {
    return this.byId.get(id);
  }

  recordBroadcast(channel: Channel, record: BroadcastRecord): void {
    channel.broadcasts.push(record);
    this.broadcastsTotal++;
  }

  /** Broadcast capability is on for every app unless switched off (FeatureNotEnabled). */
  broadcastEnabled(bundleId: string): boolean {
    return !this.disabled.has(bundleId);
  }

  setBroadcastEnabled(bundleId: string, enabled: boolean): void {
    if (enabled) this.disabled.delete(bundleId);
    else this.disabled.add(bundleId);
  }

  clear(): void {
    this.byId.clear();
    this.active.clear();
    this.disabled.clear();
    this.created = 0;
    this.deleted = 0;
    this.broadcastsTotal = 0;
  }
}
