import { deliverBatchSize, type FanoutJobData, localReasons, type RegistryAudience } from '@pushfleet/core';
import { type DeliverBase, deliverJob, type QueuedJob } from '@pushfleet/queue';
import type { FanoutLedger } from '@pushfleet/store';
import type { Logger } from '@pushfleet/telemetry';
import type { JobHandle } from './job-handle.ts';

/** The ledger calls a fan-out makes (satisfied by `FanoutLedger`). */
export type FanoutLedgerPort = Pick<
  FanoutLedger,
  | 'state'
  | 'resetAudience'
  | 'appendUniqueAudience'
  | 'markMaterialised'
  | 'audienceLength'
  | 'readAudience'
  | 'startRate'
  | 'finish'
  | 'fail'
>;

export interface FanoutDeps {
  ledger: FanoutLedgerPort;
  /** Adds a page's batches and moves the cursor to `offset`, in one transaction. */
  commitPage(app: string, notificationId: string, jobs: QueuedJob[], offset: number): Promise<void>;
  /** Pages of a registry audience (device index sets), for materialising it. */
  registryPages(job: FanoutJobData, audience: RegistryAudience): AsyncIterable<string[]>;
  /** Batches of the app waiting to be sent (backpressure). */
  waitingBatches(app: string): Promise<number>;
  log: Logger;
  /** Tokens read and turned into batches per step; a multiple of the deliver batch size. */
  pageSize: number;
  /** While an app's queue holds more waiting batches, the fan-out parks itself. */
  maxQueuedBatches: number;
  /** With a rate, batches are added at most this far ahead of their send time. */
  rateHorizonMs: number;
  /** True once the worker is closing: the job parks itself and another worker resumes it. */
  closing(): boolean;
  now(): number;
}

export type FanoutRun = 'finished' | 'already-done' | 'no-record' | 'failed';

/**
 * Copies a registry audience (all devices, tags, users) into the audience list, dropping
 * duplicates, up to the job's cap. It starts over after a crash: no batch exists before it ends.
 * Returns the audience size, or -1 when the audience is over the cap.
 */
async function materialise(
  job: JobHandle<FanoutJobData>,
  audience: RegistryAudience,
  deps: FanoutDeps,
): Promise<number> {
  const { app, notificationId: id, maxTokens } = job.data;
  await deps.ledger.resetAudience(app, id);
  let length = 0;
  for await (const members of deps.registryPages(job.data, audience)) {
    if (members.length === 0) continue;
    length = await deps.ledger.appendUniqueAudience(app, id, members, maxTokens);
    if (length < 0) return -1;
  }
  return length;
}

/**
 * Expands one campaign (or a notification too large for one transaction) into deliver batches:
 * pages through its audience and adds each page's batches together with the ledger's cursor, in
 * one transaction, so a crash never adds a page twice nor skips one. Parks itself for
 * backpressure, pacing and shutdown; stops on cancel, and the tokens it never expanded end as
 * cancelled.
 */
export async function processFanoutJob(job: JobHandle<FanoutJobData>, deps: FanoutDeps): Promise<FanoutRun> {
  const data = job.data;
  const { app, notificationId: id } = data;
  const log = deps.log.child({ jobId: job.id, app, notificationId: id });
  let state = await deps.ledger.state(app, id);
  if (!state.exists) {
    log.error('fan-out without a ledger record: nothing expanded');
    return 'no-record';
  }
  if (state.done) return 'already-done';

  if (state.phase === 'materialise' && !state.cancelled) {
    const total = data.audience.kind === 'list' ? -1 : await materialise(job, data.audience, deps);
    if (total < 0) {
      await deps.ledger.fail(app, id, 'PF_ERR_TOO_MANY_TOKENS', deps.now());
      log.error({ maxTokens: data.maxTokens }, 'campaign audience over api.maxCampaignTokens: not sent');
      return 'failed';
    }
    await deps.ledger.markMaterialised(app, id, total);
    log.info({ total }, 'campaign audience materialised');
    state = { ...state, phase: 'fanout' };
  }

  const total = state.phase === 'fanout' ? await deps.ledger.audienceLength(app, id) : 0;
  const rate = data.ratePerSecond;
  const rateStartedAt =
    rate === undefined ? 0 : (state.rateStartedAt ?? (await deps.ledger.startRate(app, id, deps.now())));
  let offset = state.queued;
  const base: DeliverBase = {
    app,
    environment: data.environment,
    notificationId: id,
    prepared: data.prepared,
  };

  while (offset < total && !state.cancelled) {
    if (deps.closing()) await job.postpone(deps.now());
    const dueAt = rate === undefined ? 0 : rateStartedAt + (offset / rate) * 1000;
    if (dueAt - deps.now() > deps.rateHorizonMs) await job.postpone(dueAt - deps.rateHorizonMs);
    if ((await deps.waitingBatches(app)) > deps.maxQueuedBatches) await job.postpone(deps.now() + 1000);

    const tokens = await deps.ledger.readAudience(app, id, offset, deps.pageSize);
    if (tokens.length === 0) break;
    const now = deps.now();
    const jobs: QueuedJob[] = [];
    for (let i = 0; i < tokens.length; i += deliverBatchSize) {
      const position = offset + i;
      const delayMs = rate === undefined ? 0 : rateStartedAt + (position / rate) * 1000 - now;
      jobs.push(
        deliverJob(base, position / deliverBatchSize, tokens.slice(i, i + deliverBatchSize), {
          delayMs,
          priority: data.priority,
        }),
      );
    }
    await deps.commitPage(app, id, jobs, offset + tokens.length);
    offset += tokens.length;
    state = await deps.ledger.state(app, id);
  }
  if (state.cancelled) log.info({ queued: offset, total }, 'fan-out stopped by a cancel');
  await deps.ledger.finish(app, id, total, deps.now(), {
    outcome: 'cancelled',
    reason: localReasons.cancelled,
  });
  log.info({ total, queued: offset }, 'fan-out finished');
  return 'finished';
}
