import type { Redis } from 'ioredis';
import { globalSpace } from './ledger/keys.ts';
import { runScript } from './scripts.ts';

/**
 * Which apps have work: the signal that lets a worker attach only to apps with jobs, so its Redis
 * connections and idle commands follow the apps that are busy, not the apps that exist.
 * Producers mark an app when they add jobs (now, or when delayed jobs become due); workers read
 * the set, and release an app once its queue is empty (a compare-and-set on the app's version,
 * so work marked meanwhile keeps it). A message on the channel wakes workers at once.
 */
export class ActivityStore {
  readonly channel: string;
  private readonly nowKey: string;
  private readonly laterKey: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    const space = globalSpace(prefix);
    this.channel = `${space}:activity`;
    this.nowKey = `${space}:activity:now`;
    this.laterKey = `${space}:activity:later`;
  }

  /** The app has work from `dueMs` on (now, or when its earliest delayed job is due). */
  async mark(app: string, dueMs: number, now = Date.now()): Promise<void> {
    await runScript(
      this.redis,
      'activity-mark',
      [this.nowKey, this.laterKey],
      [app, dueMs, now, this.channel],
    );
  }

  /** Apps with work now, with the version a release must present. Due later work is moved in first. */
  async busy(now = Date.now()): Promise<Map<string, string>> {
    await runScript(this.redis, 'activity-promote', [this.nowKey, this.laterKey], [now, this.channel]);
    const flat = await this.redis.zrange(this.nowKey, 0, -1, 'WITHSCORES');
    const out = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
    return out;
  }

  /**
   * The app's queue was found empty (nothing ready or running) at `version`: it leaves the busy
   * set, its delayed work (if any) marked for `nextDueMs`. False when work was marked meanwhile.
   */
  async release(app: string, version: string, nextDueMs: number | undefined): Promise<boolean> {
    const released = await runScript(
      this.redis,
      'activity-release',
      [this.nowKey, this.laterKey],
      [app, version, nextDueMs === undefined ? '' : nextDueMs],
    );
    return released === 1;
  }
}
