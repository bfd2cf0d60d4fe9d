import type { Config } from '@pushfleet/config';
import type { Queue } from 'bullmq';

export const schedulerQueueName = 'scheduler';

export type ScheduledJobName =
  | 'feedback-poll'
  | 'legacy-feedback-poll'
  | 'stale-token-sweep'
  | 'housekeeping';

/** Every scheduled job and its interval (ms) from the config. */
export function jobIntervals(config: Readonly<Config>): Record<ScheduledJobName, number> {
  const s = config.scheduler;
  return {
    'feedback-poll': s.feedbackPollSeconds * 1000,
    'legacy-feedback-poll': s.legacyFeedbackPollSeconds * 1000,
    'stale-token-sweep': s.staleSweepSeconds * 1000,
    housekeeping: s.housekeepingSeconds * 1000,
  };
}

/**
 * Job schedulers live in Redis: every replica upserts the same ids (the last start's intervals
 * win), and each tick produces one job that one worker takes, so each run happens once however
 * many scheduler processes run.
 */
export async function upsertJobSchedulers(queue: Queue, config: Readonly<Config>): Promise<void> {
  for (const [name, every] of Object.entries(jobIntervals(config))) {
    await queue.upsertJobScheduler(
      name,
      { every },
      { name, opts: { removeOnComplete: { age: 3600, count: 100 }, removeOnFail: { age: 7 * 24 * 3600 } } },
    );
  }
}
