import type { Job } from 'bullmq';
import { DelayedError } from 'bullmq';

/** What a job processor needs of the job it runs: its data, and a way to park it. */
export interface JobHandle<T> {
  id: string;
  data: T;
  /** True on the job's first start: no earlier run can have left state behind. */
  firstStart: boolean;
  /** When the job was added and how long it was meant to wait (for the queue-wait metric). */
  enqueuedAt: number;
  delayMs: number;
  priority: number | undefined;
  /** Parks the job until `untilMs` without spending an attempt, and leaves the processor. */
  postpone(untilMs: number): Promise<never>;
}

/** BullMQ's job as a `JobHandle`; `lockToken` is BullMQ's lock, not a device token. */
export function bullJobHandle<T>(job: Job<T>, lockToken: string | undefined): JobHandle<T> {
  return {
    id: job.id!,
    data: job.data,
    firstStart: job.attemptsStarted <= 1,
    enqueuedAt: job.timestamp,
    delayMs: job.delay ?? 0,
    priority: job.opts.priority,
    async postpone(untilMs) {
      await job.moveToDelayed(untilMs, lockToken);
      throw new DelayedError();
    },
  };
}
