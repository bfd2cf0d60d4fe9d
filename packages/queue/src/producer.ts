import type { DeliverJobData } from '@pushfleet/core';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { deliverJobId, deliverQueueName } from './names.ts';

/** Tokens per deliver job: big enough that queue overhead is small per token, small enough to checkpoint. */
export const deliverBatchSize = 500;

export const deliverJobOptions: JobsOptions = {
  // Unexpected exceptions (not APNs answers, which are handled per token) get a few job-level retries.
  attempts: 5,
  backoff: { type: 'exponential', delay: 1000 },
  // A completed job still holds its tokens (~40 KB for 500): keep few, briefly.
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export type DeliverBase = Omit<DeliverJobData, 'tokens' | 'attempt' | 'batchNo'>;

/**
 * The addBulk entry of one first-attempt deliver batch: the only place deliver jobs are shaped,
 * so every producer (API, direct enqueue, campaign fan-out) gets the same deterministic id and
 * options.
 */
export function deliverBatchJob(
  base: DeliverBase,
  batchNo: number,
  tokens: string[],
  options: { delayMs?: number | undefined; priority?: number | undefined } = {},
) {
  return {
    name: 'deliver',
    data: { ...base, batchNo, tokens, attempt: 0 } satisfies DeliverJobData,
    opts: {
      ...deliverJobOptions,
      jobId: deliverJobId(base.notificationId, batchNo, 0),
      delay: options.delayMs && options.delayMs > 0 ? Math.round(options.delayMs) : undefined,
      priority: options.priority,
    },
  };
}

/** Jobs per addBulk: one round trip per 100 batches (50k tokens) keeps each MULTI short. */
const jobsPerBulk = 100;

/** Producer side of the deliver queues: one BullMQ Queue per app, created on first use. */
export class DeliverProducer {
  private readonly queues = new Map<string, Queue<DeliverJobData>>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  queueFor(app: string): Queue<DeliverJobData> {
    let queue = this.queues.get(app);
    if (!queue) {
      queue = new Queue<DeliverJobData>(deliverQueueName(app), {
        connection: this.connection,
        prefix: this.prefix,
      });
      this.queues.set(app, queue);
    }
    return queue;
  }

  /** Splits tokens into deliver batches and adds them, 100 batches per addBulk. */
  async enqueue(
    base: DeliverBase,
    tokens: string[],
    options: { delayMs?: number | undefined; priority?: number | undefined } = {},
  ): Promise<number> {
    const queue = this.queueFor(base.app);
    let batches = 0;
    for (let first = 0; first < tokens.length; first += deliverBatchSize * jobsPerBulk) {
      const jobs = [];
      const end = Math.min(tokens.length, first + deliverBatchSize * jobsPerBulk);
      for (let i = first; i < end; i += deliverBatchSize) {
        jobs.push(
          deliverBatchJob(
            base,
            i / deliverBatchSize,
            tokens.slice(i, Math.min(end, i + deliverBatchSize)),
            options,
          ),
        );
      }
      await queue.addBulk(jobs);
      batches += jobs.length;
    }
    return batches;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
