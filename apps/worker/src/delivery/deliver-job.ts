import { setTimeout as sleep } from 'node:timers/promises';
import {
  addEnded,
  advanceCheckpoint,
  type BackoffPolicy,
  type BatchCheckpoint,
  type BatchRef,
  type DeliverJobData,
  type DeliveryLedger,
  type EndOutcome,
  firstCheckpoint,
  hasExpired,
  localReasons,
  noOutcomes,
  type PushTransport,
  retryDelayMs,
  type StepOutcomes,
  type StepResult,
  shortenToken,
  unsettledTokens,
} from '@pushfleet/core';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import type { JobHandle } from './job-handle.ts';
import { sendAnySlice } from './live-send.ts';
import { countOutcomes } from './metrics.ts';
import type { LiveActivityPort, PausePort, RateLimitPort } from './ports.ts';

export interface DeliverDeps {
  ledger: DeliveryLedger;
  transportFor(app: string, environment: DeliverJobData['environment']): Promise<PushTransport>;
  pauses: PausePort;
  limiter: RateLimitPort;
  rateLimitFor(app: string): number | undefined;
  metrics: DeliveryMetrics;
  log: Logger;
  maxAttempts: number;
  checkpointEvery: number;
  backoff: BackoffPolicy;
  /** How long a job whose batch another run moved on waits before it looks again. */
  recheckMs: number;
  now(): number;
  /** A fresh id per run of a job (so a run recognises its own write sent twice). */
  newRunId(): string;
  /** Live Activity and channel registries (jobs to activity ids, clean-up after 410 / ChannelNotRegistered). */
  live?: LiveActivityPort;
}

/** How a run of a deliver job ended (for tests and logs). */
export type DeliverRun =
  | 'sent'
  | 'already-done'
  | 'no-record'
  | 'cancelled'
  | 'expired'
  | 'handed-over'
  | 'moved-on';

/**
 * Sends one deliver job: one prepared notification to a batch of tokens, in slices of
 * `checkpointEvery`. Each slice's outcomes are recorded with the batch's checkpoint in one
 * compare-and-set step of the ledger, so a run that resumes after a crash starts after the last
 * recorded slice (at most one slice is sent twice), nothing is counted twice, and of two runs of
 * the same batch (a stalled job taken over while its first worker still runs) only one goes on.
 * Retryable tokens go to one retry job, handed over atomically with the batch's end.
 */
export async function processDeliverJob(
  job: JobHandle<DeliverJobData>,
  deps: DeliverDeps,
): Promise<DeliverRun> {
  const data = job.data;
  const ref: BatchRef = {
    app: data.app,
    environment: data.environment,
    notificationId: data.notificationId,
    batchNo: data.batchNo,
    attempt: data.attempt,
  };
  const labels = { app: data.app, environment: data.environment };
  const log = deps.log.child({ jobId: job.id, app: data.app, notificationId: data.notificationId });
  const started = performance.now();
  if (job.firstStart) {
    deps.metrics.queueWait.observe(
      { app: data.app },
      Math.max(0, deps.now() - job.enqueuedAt - job.delayMs) / 1000,
    );
  }

  const run = deps.newRunId();
  const start = await deps.ledger.begin(ref, run);
  if (!start.exists) {
    // Never accepted (its transaction did not commit) or long expired: nobody counts on it.
    log.error({ batchNo: data.batchNo }, 'deliver job without a ledger record: not sent');
    return 'no-record';
  }
  if (start.state.kind === 'done') return 'already-done';
  let cp: BatchCheckpoint = start.state.kind === 'progress' ? start.state.checkpoint : firstCheckpoint(run);
  // Each step builds on the last version this run saw: a run that another run has taken the
  // batch from fails its next step instead of counting.
  let version = start.version;

  const record = async (outcomes: StepOutcomes, state: BatchCheckpoint | 'done') => {
    const result = await deps.ledger.record(ref, { after: version, outcomes, state, now: deps.now() });
    if (result.kind === 'applied') version = result.version;
    return result;
  };
  const movedOn = async (result: StepResult): Promise<DeliverRun> => {
    if (result.kind === 'no-record') {
      log.error({ batchNo: data.batchNo }, 'ledger record gone mid-batch');
      return 'no-record';
    }
    if (result.kind === 'moved-on' && result.state.kind === 'done') return 'moved-on';
    // Another run took this batch over (a stalled job resumed elsewhere): let it go on; if this
    // run still held the job, it comes back later and carries on from the ledger's state.
    log.warn({ batchNo: data.batchNo }, 'another run of this batch took over; this one steps back');
    return job.postpone(deps.now() + deps.recheckMs);
  };
  // Whatever the batch has not settled ends with one outcome (cancel, expiry).
  const endEarly = async (outcome: Extract<EndOutcome, 'cancelled' | 'expired'>): Promise<DeliverRun> => {
    const outcomes = noOutcomes();
    addEnded(outcomes, outcome, localReasons[outcome], unsettledTokens(data.tokens, cp));
    const result = await record(outcomes, 'done');
    if (result.kind !== 'applied') return movedOn(result);
    countOutcomes(deps.metrics, labels, outcomes, data.broadcast !== undefined);
    return outcome;
  };

  if (start.cancelled) return endEarly('cancelled');
  const pausedUntil = deps.pauses.pausedUntil(data.app, data.environment);
  if (pausedUntil !== undefined) return job.postpone(pausedUntil);
  if (hasExpired(data.prepared, deps.now())) return endEarly('expired');

  const rate = deps.rateLimitFor(data.app);
  while (cp.next < data.tokens.length) {
    const slice = data.tokens.slice(cp.next, cp.next + deps.checkpointEvery);
    if (rate !== undefined) {
      const waitMs = await deps.limiter.reserve(data.app, slice.length, rate);
      if (waitMs > 0) await sleep(waitMs);
    }
    // Looked up per slice: after a credentials pause the app's pool is replaced, and the next
    // slice goes to the new one while this one's requests finish on the old.
    const transport = await deps.transportFor(data.app, data.environment);
    const sent = await sendAnySlice(transport, data, slice, deps);
    const verdict = sent.verdict;
    const next = advanceCheckpoint(cp, slice.length, verdict, run);
    const outcomes = verdict.outcomes;
    let state: BatchCheckpoint | 'done' = next;
    if (next.next >= data.tokens.length) {
      if (next.retry.length === 0) state = 'done';
      else if (data.attempt + 1 >= deps.maxAttempts) {
        // Out of attempts: the retryable tokens end `failed` with the last reason, in this step.
        addEnded(outcomes, 'failed', next.retryReason, next.retry);
        log.warn(
          { gaveUp: next.retry.length, reason: next.retryReason, attempts: data.attempt + 1 },
          'retries exhausted',
        );
        state = 'done';
      }
    }
    const result = await record(outcomes, state);
    if (result.kind !== 'applied') return movedOn(result);
    countOutcomes(deps.metrics, labels, outcomes, data.broadcast !== undefined);
    await sent.cleanup().catch((err) => log.warn({ err }, 'registry clean-up after a send failed'));
    for (const t of outcomes.invalidated)
      log.info({ token: shortenToken(t.token), reason: t.reason }, 'token invalidated');
    cp = next;
    if (state === 'done') {
      deps.metrics.batchDuration.observe({ app: data.app }, (performance.now() - started) / 1000);
      return 'sent';
    }
    if (result.cancelled) return endEarly('cancelled');
    if (verdict.credentialsFailure) {
      const resumeAt = await deps.pauses.pause(data.app, data.environment, verdict.credentialsFailure);
      // Tokens not yet sent wait with the job; the refused ones wait in the checkpoint's retry list.
      if (cp.next < data.tokens.length) return job.postpone(resumeAt);
    }
  }

  // Every token was sent; some wait for a retry. Also reached by a run that resumes after a
  // crash between the last slice and the hand-over.
  const attempt = data.attempt + 1;
  const delayMs = retryDelayMs(attempt, deps.backoff, cp.retryAfter);
  await deps.ledger.handOver(ref, {
    data: { ...data, tokens: cp.retry, attempt },
    delayMs,
    priority: job.priority,
  });
  deps.metrics.retriesScheduled.inc({ ...labels, reason: cp.retryReason }, cp.retry.length);
  log.warn({ retrying: cp.retry.length, attempt, delayMs, reason: cp.retryReason }, 'retry scheduled');
  deps.metrics.batchDuration.observe({ app: data.app }, (performance.now() - started) / 1000);
  return 'handed-over';
}
