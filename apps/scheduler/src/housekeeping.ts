import { deliverQueueName } from '@pushfleet/queue';
import type { Logger } from '@pushfleet/telemetry';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

const keepCompletedMs = 3600_000;
const keepFailedMs = 7 * 24 * 3600_000;

/** Trims finished deliver jobs by age so Redis memory tracks the backlog, not history. */
export async function runHousekeeping(
  redis: Redis,
  prefix: string,
  apps: string[],
  log: Logger,
): Promise<number> {
  let removed = 0;
  for (const app of apps) {
    const queue = new Queue(deliverQueueName(app), { connection: redis, prefix });
    try {
      removed += (await queue.clean(keepCompletedMs, 10_000, 'completed')).length;
      removed += (await queue.clean(keepFailedMs, 10_000, 'failed')).length;
    } finally {
      await queue.close();
    }
  }
  log.info({ removed }, 'housekeeping done');
  return removed;
}
