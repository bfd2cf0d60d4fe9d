import type { CampaignAudienceKind, CampaignStatus, Environment, NotificationStatus } from '@pushfleet/core';
import type { ChainableCommander, Redis } from 'ioredis';
import { runScript } from '../scripts.ts';
import { recordFields as F } from './fields.ts';
import { appSpace, ledgerKeys } from './keys.ts';
import { campaignStatus, notificationStatus } from './status.ts';

export interface NotificationRecordInput {
  app: string;
  id: string;
  environment: Environment;
  accepted: number;
  now: number;
  /** Until `sendAt`: the record lives this much longer. */
  delayMs: number;
  /** Too many tokens for one transaction: its audience list is expanded by a fan-out job. */
  viaFanout?: boolean;
}

export interface CampaignRecordInput {
  app: string;
  id: string;
  environment: Environment;
  name?: string | undefined;
  audience: CampaignAudienceKind;
  /** Known up front for uploads and inline lists; registry audiences learn it when materialised. */
  total?: number | undefined;
  sendAt?: number | undefined;
  ratePerSecond?: number | undefined;
  now: number;
  delayMs: number;
}

export type CancelResult = 'cancelled' | 'already-cancelled' | 'finished' | 'not-found';

/**
 * The records producers create: staged into the producer's transaction together with the jobs,
 * so a notification or campaign is accepted (record + jobs + idempotent answer) in one step or
 * not at all. Also the reads of those records.
 */
export class RecordLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {}

  private space(app: string): string {
    return appSpace(this.prefix, app);
  }

  /** A record lives its retention past the time it may start sending. */
  ttlSeconds(delayMs: number): number {
    return this.retentionSeconds + Math.max(0, Math.ceil(delayMs / 1000));
  }

  stageNotification(tx: ChainableCommander, input: NotificationRecordInput): void {
    const key = ledgerKeys.record(this.space(input.app), input.id);
    const fields: Record<string, string | number> = {
      [F.kind]: 'notification',
      [F.app]: input.app,
      [F.environment]: input.environment,
      [F.accepted]: input.accepted,
      [F.createdAt]: input.now,
    };
    if (input.viaFanout) {
      Object.assign(fields, { [F.fanoutDone]: '0', [F.phase]: 'fanout', [F.total]: input.accepted });
    }
    const ttl = this.ttlSeconds(input.delayMs);
    tx.hset(key, fields);
    tx.expire(key, ttl);
    if (input.viaFanout) tx.expire(ledgerKeys.audience(this.space(input.app), input.id), ttl);
  }

  stageCampaign(tx: ChainableCommander, input: CampaignRecordInput): void {
    const space = this.space(input.app);
    const key = ledgerKeys.record(space, input.id);
    const fields: Record<string, string | number> = {
      [F.kind]: 'campaign',
      [F.app]: input.app,
      [F.environment]: input.environment,
      [F.audience]: input.audience,
      [F.accepted]: 0,
      [F.queued]: 0,
      [F.fanoutDone]: '0',
      [F.phase]: input.total === undefined ? 'materialise' : 'fanout',
      [F.createdAt]: input.now,
    };
    if (input.name !== undefined) fields[F.name] = input.name;
    if (input.total !== undefined) fields[F.total] = input.total;
    if (input.sendAt !== undefined) fields[F.sendAt] = input.sendAt;
    if (input.ratePerSecond !== undefined) fields[F.rate] = input.ratePerSecond;
    const ttl = this.ttlSeconds(input.delayMs);
    tx.hset(key, fields);
    tx.expire(key, ttl);
    tx.zadd(ledgerKeys.campaigns(space), input.now, input.id);
    tx.expire(ledgerKeys.audience(space, input.id), ttl);
  }

  /**
   * Marks a notification or campaign cancelled (unless every token already has an outcome):
   * batches not yet sent end `cancelled` when their job runs, and the fan-out stops expanding.
   */
  async cancel(app: string, id: string, now: number): Promise<CancelResult> {
    const result = (await runScript(
      this.redis,
      'cancel',
      [ledgerKeys.record(this.space(app), id)],
      [now],
    )) as number;
    return (['not-found', 'cancelled', 'already-cancelled', 'finished'] as const)[result]!;
  }

  async notification(app: string, id: string): Promise<NotificationStatus | null> {
    const status = notificationStatus(id, await this.redis.hgetall(ledgerKeys.record(this.space(app), id)));
    return status?.app === app ? status : null;
  }

  async campaign(app: string, id: string, now = Date.now()): Promise<CampaignStatus | null> {
    const hash = await this.redis.hgetall(ledgerKeys.record(this.space(app), id));
    const status = campaignStatus(id, hash, now);
    return status?.app === app ? status : null;
  }

  /** Campaigns newest first; `before` is a creation time (ms) cursor. */
  async campaigns(
    app: string,
    options: { limit: number; before?: number | undefined },
    now = Date.now(),
  ): Promise<{ items: CampaignStatus[]; next: number | null }> {
    const max = options.before === undefined ? '+inf' : `(${options.before}`;
    const ids = await this.redis.zrevrangebyscore(
      ledgerKeys.campaigns(this.space(app)),
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
      const status = await this.campaign(app, ids[i]!, now);
      if (status) items.push(status);
    }
    return { items, next: ids.length / 2 === options.limit ? last : null };
  }

  /** Campaign index entries created before `before` whose record is gone (expired): dropped. */
  async pruneCampaignIndex(app: string, before: number, limit: number): Promise<number> {
    const index = ledgerKeys.campaigns(this.space(app));
    const ids = await this.redis.zrangebyscore(index, '-inf', before, 'LIMIT', 0, limit);
    if (ids.length === 0) return 0;
    const exists = await Promise.all(
      ids.map((id) => this.redis.exists(ledgerKeys.record(this.space(app), id))),
    );
    const gone = ids.filter((_, i) => exists[i] === 0);
    return gone.length > 0 ? this.redis.zrem(index, ...gone) : 0;
  }
}
