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

  /** Splits tokens into deliver batches and adds them atomically (one addBulk). */
  async enqueue(
    base: Omit<DeliverJobData, 'tokens' | 'attempt' | 'batchNo'>,
    tokens: string[],
    options: { delayMs?: number; priority?: number } = {},
  ): Promise<number> {
    const jobs = [];
    for (let batchNo = 0, i = 0; i < tokens.length; batchNo++, i += deliverBatchSize) {
      jobs.push({
        name: 'deliver',
        data: { ...base, batchNo, tokens: tokens.slice(i, i + deliverBatchSize), attempt: 0 },
        opts: {
          ...deliverJobOptions,
          jobId: deliverJobId(base.notificationId, batchNo, 0),
          delay: options.delayMs,
          priority: options.priority,
        },
      });
    }
    await this.queueFor(base.app).addBulk(jobs);
    return jobs.length;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
