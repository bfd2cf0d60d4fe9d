import type {
  BroadcastStatus,
  CampaignAudienceKind,
  CampaignStatus,
  Environment,
  NotificationStatus,
} from '@pushfleet/core';
import type { ChainableCommander, Redis } from 'ioredis';
import { runScript } from '../scripts.ts';
import { recordFields as F } from './fields.ts';
import { appSpace, ledgerKeys } from './keys.ts';
import { broadcastStatus, campaignStatus, notificationStatus } from './status.ts';

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

export interface BroadcastRecordInput {
  app: string;
  id: string;
  environment: Environment;
  /** The channel's name (its APNs id is in the job). */
  channel: string;
  now: number;
  delayMs: number;
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

  /** A broadcast: one record counting one target, its channel (kind `broadcast`). */
  stageBroadcast(tx: ChainableCommander, input: BroadcastRecordInput): void {
    const key = ledgerKeys.record(this.space(input.app), input.id);
    tx.hset(key, {
      [F.kind]: 'broadcast',
      [F.app]: input.app,
      [F.environment]: input.environment,
      [F.channel]: input.channel,
      [F.accepted]: 1,
      [F.createdAt]: input.now,
    });
    tx.expire(key, this.ttlSeconds(input.delayMs));
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

  async broadcast(app: string, id: string): Promise<BroadcastStatus | null> {
    const status = broadcastStatus(id, await this.redis.hgetall(ledgerKeys.record(this.space(app), id)));
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

  /** The record's report (see `readReport`), or null when there is no such record. */
  async report(app: string, id: string): Promise<AsyncGenerator<ReportLine[]> | null> {
    if ((await this.redis.hget(ledgerKeys.record(this.space(app), id), F.app)) !== app) return null;
    return readReport(this.redis, this.prefix, app, id);
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

/** One token of a report: how it ended (every outcome but delivered), why, and when (ms). */
export interface ReportLine {
  token: string;
  outcome: string;
  reason: string;
  at: number;
}

/** Report entries read per round trip: each holds up to a slice's tokens. */
const reportPage = 100;
/** Tail tokens (never expanded by the fan-out) read per round trip. */
const tailPage = 10_000;

/**
 * The report of a record: every token that did not end delivered, as the steps recorded them,
 * then the audience tail a cancel or a failed fan-out never expanded. Paged, so any size streams
 * in constant memory. Tokens still in flight are not listed yet (read it once the record is done).
 */
export async function* readReport(
  redis: Redis,
  prefix: string,
  app: string,
  id: string,
): AsyncGenerator<ReportLine[]> {
  const space = appSpace(prefix, app);
  const key = ledgerKeys.report(space, id);
  for (let start = 0; ; start += reportPage) {
    const entries = await redis.lrange(key, start, start + reportPage - 1);
    const lines: ReportLine[] = [];
    for (const entry of entries) {
      const [outcome = '', reason = '', at = '0', tokens = ''] = entry.split('\t');
      for (const token of tokens.split(','))
        if (token) lines.push({ token, outcome, reason, at: Number(at) });
    }
    if (lines.length > 0) yield lines;
    if (entries.length < reportPage) break;
  }
  const [tail, finishedAt, cancelledAt] = await redis.hmget(
    ledgerKeys.record(space, id),
    F.reportTail,
    F.lastOutcomeAt,
    F.cancelledAt,
  );
  if (!tail) return;
  const [outcome = 'cancelled', reason = ''] = tail.split('\t');
  const at = Number(cancelledAt ?? finishedAt ?? 0);
  const tailKey = ledgerKeys.reportTail(space, id);
  for (let start = 0; ; start += tailPage) {
    const tokens = await redis.lrange(tailKey, start, start + tailPage - 1);
    if (tokens.length > 0) yield tokens.map((token) => ({ token, outcome, reason, at }));
    if (tokens.length < tailPage) break;
  }
}
