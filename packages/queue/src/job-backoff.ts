import { backoffDelayMs } from '@pushfleet/core';
import type { BackoffOptions, MinimalJob } from 'bullmq';

/** The backoff type of every Pushfleet job: core's one backoff function (equal jitter). */
export const jobBackoffType = 'pushfleet';

/** Job-level retries (unexpected errors, webhook failures) wait at most this long. */
const maxJobBackoffMs = 15 * 60_000;

export function jobBackoff(baseMs: number): BackoffOptions {
  return { type: jobBackoffType, delay: baseMs };
}

/** Give this to every Worker as `settings.backoffStrategy`. */
export function backoffStrategy(
  attemptsMade: number,
  _type?: string,
  _err?: Error,
  job?: MinimalJob,
): number {
  const backoff = job?.opts.backoff;
  const baseMs = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : 1000;
  return backoffDelayMs(attemptsMade, { baseMs, maxMs: maxJobBackoffMs });
}
