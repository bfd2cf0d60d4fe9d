import type { Environment } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { notificationTtlSeconds, storeKeys } from './keys.ts';
import { runScript } from './scripts.ts';

/** Outcomes of one slice of a batch, applied to the counters in one atomic step. */
export interface OutcomeCounts {
  delivered: number;
  expired: number;
  cancelled: number;
  rejected: Record<string, number>;
  failed: Record<string, number>;
  /** Tokens APNs reported dead: they become feedback events in the same step. */
  invalidated: InvalidatedToken[];
}

export interface InvalidatedToken {
  token: string;
  reason: string;
  /** Apple's timestamp (ms) from a 410, else the time the answer arrived. */
  timestamp: number;
}

export function emptyOutcomeCounts(): OutcomeCounts {
  return { delivered: 0, expired: 0, cancelled: 0, rejected: {}, failed: {}, invalidated: [] };
}

/** How far a deliver job got: the next token index and the tokens waiting for a retry. */
export interface BatchCheckpoint {
  next: number;
  retry: string[];
  retryReason: string;
  retryAfter: number | undefined;
}

export interface RecordInput {
  notificationId: string;
  /** Unique per slice of a job (job id + slice start): a re-run of the same slice is ignored. */
  applyId: string;
  app: string;
  environment: Environment;
  counts: OutcomeCounts;
  /** Saved in the same step, so "counted" and "checkpointed" can never disagree after a crash. */
  checkpoint?: { jobId: string; value: BatchCheckpoint };
}

/**
 * KEYS: status hash, applied set, feedback stream, checkpoint key (written only when ARGV[6] is
 * not '': the key is always a real one under the prefix, so in Redis Cluster all four share a slot).
 * ARGV: applyId, ttl, now, app, environment, checkpoint JSON, pair count, field/increment
 * pairs, then token/reason/timestamp triples. Returns { applied, cancelled }.
 */
const recordScript = `
local cancelled = redis.call('HEXISTS', KEYS[1], 'cancelledAt')
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return {0, cancelled} end
redis.call('EXPIRE', KEYS[2], ARGV[2])
local pairs = tonumber(ARGV[7])
local i = 8
for _ = 1, pairs do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'lastOutcomeAt', ARGV[3])
while i <= #ARGV do
  redis.call('XADD', KEYS[3], '*', 'app', ARGV[4], 'environment', ARGV[5], 'token', ARGV[i], 'reason', ARGV[i + 1], 'timestamp', ARGV[i + 2])
  i = i + 3
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[2]) end
return {1, cancelled}
`;

/**
 * Records what happened to a slice of a deliver batch: counters, feedback events for dead
 * tokens and the batch checkpoint, all in one script, exactly once per applyId.
 */
export class OutcomeRecorder {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  checkpointKey(jobId: string): string {
    return `${this.prefix}:checkpoint:${jobId}`;
  }

  async readCheckpoint(jobId: string): Promise<BatchCheckpoint | undefined> {
    const raw = await this.redis.get(this.checkpointKey(jobId));
    return raw ? (JSON.parse(raw) as BatchCheckpoint) : undefined;
  }

  async clearCheckpoint(jobId: string): Promise<void> {
    await this.redis.del(this.checkpointKey(jobId));
  }

  /** Whether the notification or campaign was cancelled (checked before each slice is sent). */
  async isCancelled(notificationId: string): Promise<boolean> {
    return (
      (await this.redis.hexists(storeKeys.notification(this.prefix, notificationId), 'cancelledAt')) === 1
    );
  }

  async record(input: RecordInput): Promise<{ applied: boolean; cancelled: boolean }> {
    const { counts } = input;
    const fields: (string | number)[] = [];
    const add = (field: string, n: number) => {
      if (n > 0) fields.push(field, n);
    };
    add('delivered', counts.delivered);
    add('expired', counts.expired);
    add('cancelled', counts.cancelled);
    for (const [kind, byReason] of [
      ['rejected', counts.rejected],
      ['failed', counts.failed],
    ] as const) {
      for (const [reason, n] of Object.entries(byReason)) {
        add(kind, n);
        add(`reason:${reason}`, n);
      }
    }
    if (counts.invalidated.length > 0) add('invalidated', counts.invalidated.length);
    const feedback = counts.invalidated.flatMap((t) => [t.token, t.reason, String(t.timestamp)]);
    const [applied, cancelled] = (await runScript(
      this.redis,
      'pushfleetRecordOutcomes',
      recordScript,
      4,
      storeKeys.notification(this.prefix, input.notificationId),
      storeKeys.notificationApplied(this.prefix, input.notificationId),
      storeKeys.feedbackStream(this.prefix),
      this.checkpointKey(input.checkpoint ? input.checkpoint.jobId : '-'),
      input.applyId,
      notificationTtlSeconds,
      Date.now(),
      input.app,
      input.environment,
      input.checkpoint ? JSON.stringify(input.checkpoint.value) : '',
      fields.length / 2,
      ...fields,
      ...feedback,
    )) as [number, number];
    return { applied: applied === 1, cancelled: cancelled === 1 };
  }
}
