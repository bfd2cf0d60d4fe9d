import {
  type DeliverJobData,
  deliverJobId,
  type FanoutJobData,
  fanoutJobId,
  jobNames,
} from '@pushfleet/core';
import { ActivityStore } from '@pushfleet/store';
import { Job, type JobsOptions, Queue } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { jobBackoff } from './job-backoff.ts';
import { type AppQueueName, appQueueName, appQueueNames, appQueuePrefix, expressQueueName } from './names.ts';

/**
 * Unexpected exceptions (not APNs answers, which are handled per token) get a few job-level
 * retries; after the last one the ledger settles what the batch had not sent as `failed`.
 */
export const deliverJobOptions: JobsOptions = {
  attempts: 5,
  backoff: jobBackoff(1000),
  // A completed job still holds its tokens (~40 KB for 500): keep few, briefly. The ledger, not
  // the job, remembers that a batch is done, so evicting completed jobs loses nothing.
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** The fan-out is resumable (its cursor is in the ledger), so an error just runs it again. */
export const fanoutJobOptions: JobsOptions = {
  attempts: 20,
  backoff: jobBackoff(1000),
  removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export interface QueuedJob<T = DeliverJobData | FanoutJobData> {
  name: string;
  data: T;
  opts: JobsOptions & { jobId: string };
}

/** A deliver job's data but its batch (distributed: each kind keeps its own fields). */
export type DeliverBase<T extends DeliverJobData = DeliverJobData> = T extends DeliverJobData
  ? Omit<T, 'tokens' | 'attempt' | 'batchNo'>
  : never;

const delayOption = (delayMs: number | undefined) =>
  delayMs !== undefined && delayMs > 0 ? Math.round(delayMs) : undefined;

/**
 * The one place deliver jobs are shaped (first batches from every producer and the fan-out,
 * and retry jobs): deterministic ids, the same options.
 */
export function deliverJob<T extends DeliverJobData>(
  base: DeliverBase<T>,
  batchNo: number,
  tokens: string[],
  options: { attempt?: number; delayMs?: number | undefined; priority?: number | undefined } = {},
): QueuedJob<DeliverJobData> {
  const attempt = options.attempt ?? 0;
  return {
    name: jobNames.deliver,
    data: { ...base, batchNo, tokens, attempt } as DeliverJobData,
    opts: {
      ...deliverJobOptions,
      jobId: deliverJobId(base.notificationId, batchNo, attempt),
      delay: delayOption(options.delayMs),
      priority: options.priority,
    },
  };
}

export function fanoutJob(data: FanoutJobData, delayMs?: number): QueuedJob<FanoutJobData> {
  return {
    name: jobNames.fanout,
    data,
    opts: {
      ...fanoutJobOptions,
      jobId: fanoutJobId(data.notificationId),
      delay: delayOption(delayMs),
      priority: 1,
    },
  };
}

/** The queue of the app that runs a job: `express` for a deliver job of one token, else `deliver`. */
export function queueNameOf(job: Pick<QueuedJob, 'name' | 'data'>): AppQueueName {
  return job.name === jobNames.deliver && (job.data as DeliverJobData).tokens.length === 1
    ? expressQueueName
    : appQueueName;
}

/** What an app's queues still have to do (jobs not finished), and when the soonest scheduled job is due. */
export interface PendingWork {
  /** Waiting or prioritized: ready to run. */
  ready: number;
  active: number;
  delayed: number;
  /** Due time (ms) of the soonest delayed job, when there is one. */
  soonestDueAt?: number;
}

/** Adds up the pending work of several queues (an app's two). */
export async function pendingWork(queues: Queue[]): Promise<PendingWork> {
  const work: PendingWork = { ready: 0, active: 0, delayed: 0 };
  for (const queue of queues) {
    const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed');
    work.ready += (counts.wait ?? 0) + (counts.prioritized ?? 0);
    work.active += counts.active ?? 0;
    work.delayed += counts.delayed ?? 0;
    if ((counts.delayed ?? 0) === 0) continue;
    const [soonest] = await queue.getDelayed(0, 0);
    if (!soonest) continue;
    const due = soonest.timestamp + (soonest.delay ?? 0);
    work.soonestDueAt = Math.min(work.soonestDueAt ?? due, due);
  }
  return work;
}

/**
 * A transaction on an app queue's connection: ledger writes and job adds staged on it commit
 * together (MULTI/EXEC), so a record never exists without its jobs, nor jobs without their record.
 */
export interface AppTransaction {
  tx: ChainableCommander;
  add(job: QueuedJob): void;
  exec(): Promise<void>;
}

/** The apps' queues of one process, created on first use, each with an error listener. */
export class AppQueues {
  private readonly queues = new Map<string, Queue>();

  private readonly activity: ActivityStore;

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly onError: (err: Error, app: string) => void = () => undefined,
  ) {
    this.activity = new ActivityStore(connection, prefix);
  }

  queue(app: string, name: AppQueueName = appQueueName): Queue {
    const key = `${name}/${app}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.connection,
        prefix: appQueuePrefix(this.prefix, app),
      });
      // Without a listener BullMQ prints raw errors to stderr (a Redis outage breaks JSON logs).
      queue.on('error', (err) => this.onError(err, app));
      this.queues.set(key, queue);
    }
    return queue;
  }

  /** Both queues of the app. */
  appQueues(app: string): Queue[] {
    return appQueueNames.map((name) => this.queue(app, name));
  }

  async transaction(app: string): Promise<AppTransaction> {
    // Both queues share this process's connection, so one MULTI holds adds to either. BullMQ's
    // own client: its scripts are loaded on it, so `Job.addJob` can stage them here.
    const [client] = await Promise.all([
      this.queue(app).getBackend().client,
      this.queue(app, expressQueueName).getBackend().client,
    ]);
    const tx = (client as unknown as Redis).multi();
    let soonestDelayMs: number | undefined;
    return {
      tx,
      add: (job) => {
        const queue = this.queue(app, queueNameOf(job));
        void new Job(queue, job.name, job.data, job.opts, job.opts.jobId).addJob(tx as never);
        soonestDelayMs = Math.min(soonestDelayMs ?? Number.POSITIVE_INFINITY, job.opts.delay ?? 0);
      },
      exec: async () => {
        const results = await tx.exec();
        if (!results) throw new Error('transaction aborted');
        for (const [err, reply] of results) {
          if (err) throw err;
          // BullMQ's add scripts answer a negative code instead of an id when they refuse.
          if (typeof reply === 'number' && reply < 0) throw new Error(`job add refused (code ${reply})`);
        }
        if (soonestDelayMs !== undefined) await this.markActive(app, Date.now() + soonestDelayMs);
      },
    };
  }

  /**
   * Tells workers the app has work (they attach only to apps that do). Its own command, after the
   * transaction (in Redis Cluster the signal lives in another slot), so it is retried a few times;
   * a signal lost even so is restored by the scheduler's housekeeping sweep.
   */
  async markActive(app: string, dueMs: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.activity.mark(app, dueMs);
      } catch (err) {
        if (attempt >= 3) return this.onError(err as Error, app);
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
