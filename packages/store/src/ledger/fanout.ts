import { type Environment, localReasons } from '@pushfleet/core';
import type { ChainableCommander, Redis } from 'ioredis';
import { runScript, stageScript } from '../scripts.ts';
import { recordFields as F, reasonField } from './fields.ts';
import { appSpace, ledgerKeys } from './keys.ts';

/** Where a fan-out stands, as the ledger has it (the cursor moves with the batches it added). */
export interface FanoutState {
  exists: boolean;
  kind: 'notification' | 'campaign';
  environment: Environment;
  accepted: number;
  /** Whether the record's tokens are expanded by a fan-out (campaigns, very large notifications). */
  hasFanout: boolean;
  cancelled: boolean;
  done: boolean;
  phase: 'materialise' | 'fanout';
  /** Tokens of the audience already in deliver batches. */
  queued: number;
  rateStartedAt: number | undefined;
}

/** An audience still being written (an upload before its commit) expires unless the commit extends it. */
export const pendingAudienceTtlSeconds = 3600;

/**
 * The audience list of a campaign (or of a notification too large for one transaction) and the
 * fan-out's progress through it.
 */
export class FanoutLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {}

  private keys(app: string, id: string) {
    const space = appSpace(this.prefix, app);
    return {
      record: ledgerKeys.record(space, id),
      audience: ledgerKeys.audience(space, id),
      seen: ledgerKeys.seen(space, id),
      batches: ledgerKeys.batches(space, id),
      report: ledgerKeys.report(space, id),
      reportTail: ledgerKeys.reportTail(space, id),
    };
  }

  async state(app: string, id: string): Promise<FanoutState> {
    const [kind, environment, accepted, cancelledAt, fanoutDone, phase, queued, rateStartedAt] =
      await this.redis.hmget(
        this.keys(app, id).record,
        F.kind,
        F.environment,
        F.accepted,
        F.cancelledAt,
        F.fanoutDone,
        F.phase,
        F.queued,
        F.rateStartedAt,
      );
    return {
      exists: kind !== null,
      kind: kind === 'campaign' ? 'campaign' : 'notification',
      environment: (environment ?? 'production') as Environment,
      accepted: Number(accepted ?? 0),
      hasFanout: fanoutDone !== null,
      cancelled: cancelledAt !== null,
      done: fanoutDone === '1',
      phase: phase === 'materialise' ? 'materialise' : 'fanout',
      queued: Number(queued ?? 0),
      rateStartedAt: rateStartedAt === null ? undefined : Number(rateStartedAt),
    };
  }

  /** Starts an audience afresh (a materialise that restarts, an upload under a new id). */
  async resetAudience(app: string, id: string): Promise<void> {
    const k = this.keys(app, id);
    await this.redis.del(k.audience, k.seen);
  }

  /** One RPUSH of validated, normalised tokens; uncommitted lists expire by themselves. */
  async appendAudience(app: string, id: string, tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    const key = this.keys(app, id).audience;
    await this.redis
      .multi()
      .rpush(key, ...tokens)
      .expire(key, pendingAudienceTtlSeconds)
      .exec();
  }

  /** Appends tokens not seen before, up to `cap`; the audience length, or -1 past the cap. */
  async appendUniqueAudience(app: string, id: string, tokens: string[], cap: number): Promise<number> {
    const k = this.keys(app, id);
    return (await runScript(
      this.redis,
      'append-unique',
      [k.audience, k.seen],
      [this.retentionSeconds, cap, ...tokens],
    )) as number;
  }

  /** Drops an audience that was never committed (its request failed before the commit). */
  async dropAudience(app: string, id: string): Promise<void> {
    const k = this.keys(app, id);
    await this.redis.del(k.audience, k.seen);
  }

  async audienceLength(app: string, id: string): Promise<number> {
    return this.redis.llen(this.keys(app, id).audience);
  }

  async readAudience(app: string, id: string, offset: number, count: number): Promise<string[]> {
    return this.redis.lrange(this.keys(app, id).audience, offset, offset + count - 1);
  }

  /** A registry audience is now a list of `total` tokens: the fan-out expands it from 0. */
  async markMaterialised(app: string, id: string, total: number): Promise<void> {
    await this.redis.hset(this.keys(app, id).record, { [F.phase]: 'fanout', [F.total]: total });
  }

  /** Records when a paced fan-out started (first writer wins: a re-run keeps the schedule). */
  async startRate(app: string, id: string, now: number): Promise<number> {
    const key = this.keys(app, id).record;
    await this.redis.hsetnx(key, F.rateStartedAt, now);
    return Number(await this.redis.hget(key, F.rateStartedAt));
  }

  /** Moves the cursor to `offset` in the caller's transaction, with the batches that got it there. */
  stageProgress(tx: ChainableCommander, app: string, id: string, offset: number, now: number): void {
    const k = this.keys(app, id);
    stageScript(
      tx,
      'fanout-progress',
      [k.record, k.audience, k.batches],
      [offset, now, this.retentionSeconds],
    );
  }

  /**
   * Ends the fan-out: accepted becomes `total`; tokens never handed to a batch end with the
   * given outcome (`cancelled` after a cancel, `failed` when the fan-out kept failing). Returns
   * false when it had already ended.
   */
  async finish(
    app: string,
    id: string,
    total: number,
    now: number,
    tail: { outcome: 'cancelled' | 'failed'; reason: string } = {
      outcome: 'cancelled',
      reason: localReasons.cancelled,
    },
  ): Promise<boolean> {
    const k = this.keys(app, id);
    const done = await runScript(
      this.redis,
      'fanout-finish',
      [k.record, k.audience, k.seen, k.reportTail],
      [total, now, tail.outcome, reasonField(tail.outcome, tail.reason) ?? '', tail.reason],
    );
    return done === 1;
  }

  /** A campaign that cannot start (e.g. its registry audience is over the cap): nothing is sent. */
  async fail(app: string, id: string, code: string, now: number): Promise<void> {
    await this.redis.hset(this.keys(app, id).record, { [F.error]: code });
    await this.resetAudience(app, id);
    await this.finish(app, id, 0, now);
  }
}
