import type { Environment } from '@pushfleet/core';

/** Credentials pauses per app × environment, as a job processor sees them. */
export interface PausePort {
  /** When sending resumes, while paused (read from a cache: no round trip per job). */
  pausedUntil(app: string, environment: Environment): number | undefined;
  /** Pauses (or joins the running pause); resolves to when sending resumes. */
  pause(app: string, environment: Environment, reason: string): Promise<number>;
}

/** A fleet-wide send rate per app. */
export interface RateLimitPort {
  /** Reserves `n` sends; resolves to the milliseconds to wait before sending them. */
  reserve(app: string, n: number, ratePerSecond: number): Promise<number>;
}
