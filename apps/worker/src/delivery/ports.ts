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

/**
 * The Live Activity and channel registries as a deliver job uses them: activity ids resolved to
 * their current tokens at send time, and the clean-up APNs' answers call for.
 */
export interface LiveActivityPort {
  /** The current update token of each activity (null: none), in order. */
  currentTokens(app: string, environment: Environment, activityIds: string[]): Promise<(string | null)[]>;
  /** A 410 for an activity token: its activity's record ends, unless re-registered after `invalidAt`. */
  activityTokenGone(app: string, environment: Environment, token: string, invalidAt: number): Promise<string>;
  /** A 410 for a push-to-start token: it goes, unless re-registered after `invalidAt`. */
  startTokenGone(
    app: string,
    environment: Environment,
    attributesType: string,
    token: string,
    invalidAt: number,
  ): Promise<string>;
  /** ChannelNotRegistered: the channel is forgotten; true when it was known. */
  channelGone(app: string, environment: Environment, channelId: string): Promise<boolean>;
}
