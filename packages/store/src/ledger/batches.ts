import {
  type BatchCheckpoint,
  type BatchRef,
  type BatchStart,
  type BatchState,
  countByOutcome,
  firstCheckpoint,
  type Step,
  type StepOutcomes,
  type StepResult,
  unsettledTokens,
} from '@pushfleet/core';
import type { ChainableCommander, Redis } from 'ioredis';
import { storeKeys } from '../keys.ts';
import { runScript } from '../scripts.ts';
import { batchDone, reasonField, recordFields } from './fields.ts';
import { appSpace, batchField, ledgerKeys } from './keys.ts';

export function parseBatchState(raw: string | null | false | undefined): BatchState {
  if (!raw) return { kind: 'new' };
  if (raw === batchDone) return { kind: 'done' };
  const cp = JSON.parse(raw) as BatchCheckpoint;
  // Lua's cjson writes an empty list as `{}`.
  return { kind: 'progress', checkpoint: { ...cp, retry: Array.isArray(cp.retry) ? cp.retry : [] } };
}

/** One report entry: `<outcome>\t<reason>\t<ms>\t<token>,<token>,…`. */
export function reportEntry(outcome: string, reason: string, at: number, tokens: readonly string[]): string {
  return `${outcome}\t${reason}\t${at}\t${tokens.join(',')}`;
}

/**
 * The ledger's side of a deliver job: where a batch stands, and each step's outcomes recorded
 * with the batch's new state in one atomic, compare-and-set script (lua/record-step.lua).
 */
export class BatchLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {}

  private keys(ref: Pick<BatchRef, 'app' | 'notificationId'>) {
    const space = appSpace(this.prefix, ref.app);
    return {
      record: ledgerKeys.record(space, ref.notificationId),
      batches: ledgerKeys.batches(space, ref.notificationId),
      report: ledgerKeys.report(space, ref.notificationId),
    };
  }

  /** Where a batch stands, claimed for `run` (see lua/begin-batch.lua); '' only looks. */
  async begin(ref: BatchRef, run: string): Promise<BatchStart> {
    const k = this.keys(ref);
    const [exists, cancelled, state] = (await runScript(
      this.redis,
      'begin-batch',
      [k.record, k.batches],
      [batchField(ref.batchNo, ref.attempt), run],
    )) as [number, number, string | null];
    return {
      exists: exists === 1,
      cancelled: cancelled === 1,
      state: parseBatchState(state),
      version: state ?? '',
    };
  }

  async record(ref: BatchRef, step: Step): Promise<StepResult> {
    const k = this.keys(ref);
    const counters: (string | number)[] = [];
    const { outcomes } = step;
    if (outcomes.delivered > 0) counters.push(recordFields.delivered, outcomes.delivered);
    for (const group of outcomes.ended) {
      counters.push(group.outcome, group.tokens.length);
      const byReason = reasonField(group.outcome, group.reason);
      if (byReason) counters.push(byReason, group.tokens.length);
    }
    const entries = outcomes.ended.map((g) => reportEntry(g.outcome, g.reason, step.now, g.tokens));
    const dead = outcomes.invalidated.flatMap((t) => [t.token, t.reason, String(t.timestamp)]);
    const next = step.state === 'done' ? batchDone : JSON.stringify(step.state);
    const [code, cancelled, current] = (await runScript(
      this.redis,
      'record-step',
      [k.record, k.batches, k.report, storeKeys.feedbackStream(this.prefix, ref.app)],
      [
        batchField(ref.batchNo, ref.attempt),
        step.after,
        next,
        step.now,
        this.retentionSeconds,
        ref.app,
        ref.environment,
        counters.length / 2,
        ...counters,
        entries.length,
        ...entries,
        ...dead,
      ],
    )) as [number, number, string | null];
    if (code === -1) return { kind: 'no-record' };
    if (code === 0) return { kind: 'moved-on', cancelled: cancelled === 1, state: parseBatchState(current) };
    return { kind: 'applied', cancelled: cancelled === 1, version: next };
  }

  /** Marks a batch done inside the caller's transaction (with the retry job that takes its tokens over). */
  stageDone(tx: ChainableCommander, ref: BatchRef): void {
    tx.hset(this.keys(ref).batches, { [batchField(ref.batchNo, ref.attempt)]: batchDone });
  }

  /**
   * Ends whatever a batch has not settled yet with one outcome (its job failed for good, or was
   * found cancelled or expired): unsent tokens and those waiting to retry. Idempotent: a batch
   * already done is left alone. Returns the number of tokens it settled.
   */
  async settle(
    ref: BatchRef,
    tokens: readonly string[],
    outcome: 'failed' | 'cancelled' | 'expired',
    reason: string,
    now = Date.now(),
  ): Promise<number> {
    for (let tries = 0; tries < 5; tries++) {
      // Only a look: a run of the batch that claims it meanwhile makes this settle step fail.
      const start = await this.begin(ref, '');
      if (!start.exists || start.state.kind === 'done') return 0;
      const cp = start.state.kind === 'progress' ? start.state.checkpoint : firstCheckpoint('');
      const rest = unsettledTokens(tokens, cp);
      const outcomes: StepOutcomes = {
        delivered: 0,
        ended: rest.length > 0 ? [{ outcome, reason, tokens: rest }] : [],
        invalidated: [],
      };
      const result = await this.record(ref, { after: start.version, outcomes, state: 'done', now });
      if (result.kind === 'applied') return countByOutcome(outcomes)[outcome];
      if (result.kind === 'no-record') return 0;
    }
    throw new Error(
      `batch ${ref.notificationId}/${ref.batchNo}.${ref.attempt} kept moving while settling it`,
    );
  }
}
