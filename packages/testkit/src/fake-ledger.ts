import {
  type BatchCheckpoint,
  type BatchRef,
  type BatchStart,
  type BatchState,
  countByOutcome,
  type DeliveryLedger,
  type Outcome,
  type RetryJob,
  type Step,
  type StepResult,
} from '@pushfleet/core';

/** A crash point: the fake fails call number `at` (1-based), before or after applying it. */
export interface CrashPlan {
  at: number;
  when: 'before' | 'after';
}

export class SimulatedCrash extends Error {
  constructor(call: number, when: string) {
    super(`simulated crash ${when} ledger call ${call}`);
    this.name = 'SimulatedCrash';
  }
}

const batchKey = (ref: BatchRef) => `${ref.notificationId}/${ref.batchNo}.${ref.attempt}`;

/**
 * The delivery ledger in memory, with the same contract as the Redis one (lua/begin-batch.lua,
 * lua/record-step.lua): a run claims the batch, a step applies only if the batch's state is still
 * the version it builds on (compare-and-set), a run's own write sent twice is recognised, a
 * missing record is never written. For unit tests of the
 * job processors, including crash points between every ledger call.
 */
export class FakeLedger implements DeliveryLedger {
  readonly counts = new Map<string, Record<Outcome | 'accepted', number>>();
  readonly reasons = new Map<string, Record<string, number>>();
  /** Tokens per outcome, as the report would list them. */
  readonly ended: { notificationId: string; outcome: Outcome; reason: string; token: string }[] = [];
  readonly invalidated: { notificationId: string; token: string; reason: string }[] = [];
  readonly batches = new Map<string, string>();
  readonly retryJobs: RetryJob[] = [];
  readonly cancelled = new Set<string>();
  calls = 0;
  crash: CrashPlan | undefined;

  /** Creates a record, as a producer's accepting transaction would. */
  accept(notificationId: string, accepted: number): void {
    this.counts.set(notificationId, {
      accepted,
      delivered: 0,
      rejected: 0,
      failed: 0,
      expired: 0,
      cancelled: 0,
    });
    this.reasons.set(notificationId, {});
  }

  cancel(notificationId: string): void {
    this.cancelled.add(notificationId);
  }

  private async call<T>(apply: () => T): Promise<T> {
    const n = ++this.calls;
    if (this.crash?.at === n && this.crash.when === 'before') throw new SimulatedCrash(n, 'before');
    const result = apply();
    if (this.crash?.at === n && this.crash.when === 'after') throw new SimulatedCrash(n, 'after');
    return result;
  }

  private state(ref: BatchRef): BatchState {
    const raw = this.batches.get(batchKey(ref));
    if (raw === undefined) return { kind: 'new' };
    if (raw === 'done') return { kind: 'done' };
    return { kind: 'progress', checkpoint: JSON.parse(raw) as BatchCheckpoint };
  }

  begin(ref: BatchRef, run: string): Promise<BatchStart> {
    return this.call(() => {
      const exists = this.counts.has(ref.notificationId);
      const state = this.state(ref);
      if (exists && run !== '' && state.kind !== 'done') {
        const cp = state.kind === 'progress' ? state.checkpoint : { next: 0, retry: [], retryReason: '' };
        this.batches.set(batchKey(ref), JSON.stringify({ ...cp, run }));
      }
      return {
        exists,
        cancelled: this.cancelled.has(ref.notificationId),
        state: this.state(ref),
        version: this.batches.get(batchKey(ref)) ?? '',
      };
    });
  }

  record(ref: BatchRef, step: Step): Promise<StepResult> {
    return this.call((): StepResult => {
      const counts = this.counts.get(ref.notificationId);
      if (!counts) return { kind: 'no-record' };
      const cancelled = this.cancelled.has(ref.notificationId);
      const current = this.batches.get(batchKey(ref));
      const next = step.state === 'done' ? 'done' : JSON.stringify(step.state);
      if ((current ?? '') !== step.after) {
        if (current === next) return { kind: 'applied', cancelled, version: next };
        return { kind: 'moved-on', cancelled, state: this.state(ref) };
      }
      const byOutcome = countByOutcome(step.outcomes);
      for (const outcome of Object.keys(byOutcome) as Outcome[]) counts[outcome] += byOutcome[outcome];
      const reasons = this.reasons.get(ref.notificationId)!;
      for (const g of step.outcomes.ended) {
        reasons[g.reason] = (reasons[g.reason] ?? 0) + g.tokens.length;
        for (const token of g.tokens) {
          this.ended.push({
            notificationId: ref.notificationId,
            outcome: g.outcome,
            reason: g.reason,
            token,
          });
        }
      }
      for (const t of step.outcomes.invalidated) {
        this.invalidated.push({ notificationId: ref.notificationId, token: t.token, reason: t.reason });
      }
      this.batches.set(batchKey(ref), next);
      return { kind: 'applied', cancelled, version: next };
    });
  }

  handOver(ref: BatchRef, retry: RetryJob): Promise<void> {
    return this.call(() => {
      this.batches.set(batchKey(ref), 'done');
      // Deterministic job ids: a hand-over replayed after a crash adds the retry job once.
      const exists = this.retryJobs.some(
        (j) =>
          j.data.notificationId === retry.data.notificationId &&
          j.data.batchNo === retry.data.batchNo &&
          j.data.attempt === retry.data.attempt,
      );
      if (!exists) this.retryJobs.push(retry);
    });
  }

  /** Sum of terminal outcomes of a record. */
  settled(notificationId: string): number {
    const c = this.counts.get(notificationId)!;
    return c.delivered + c.rejected + c.failed + c.expired + c.cancelled;
  }
}
