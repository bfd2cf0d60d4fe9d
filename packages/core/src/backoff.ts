export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * The one backoff of the project (delivery retries, Redis reconnects, webhook retries): "equal
 * jitter" exponential backoff. Attempt n (1-based) waits between half and all of
 * min(max, base·2^(n−1)), so a fleet retrying after one outage does not return in lock-step,
 * yet every wait keeps growing (full jitter could come back almost at once).
 */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Delay before delivery retry number `attempt`: the backoff above, never sooner than a server's
 * Retry-After (seconds): APNs asked us to wait at least that long.
 */
export function retryDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number {
  const floor = retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0;
  return Math.max(backoffDelayMs(attempt, policy, random), floor);
}
