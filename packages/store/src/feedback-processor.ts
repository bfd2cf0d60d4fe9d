import type { Redis } from 'ioredis';
import { feedbackGroup } from './feedback-keys.ts';
import { type FeedbackAction, type FeedbackEvent, FeedbackPurger } from './feedback-purger.ts';
import { storeKeys } from './keys.ts';

export interface FeedbackProcessorOptions {
  /** Unique per process (hostname + pid): pending entries are tracked per consumer. */
  consumer: string;
  /** Pending entries idle this long belong to a consumer that died mid-run and are taken over. */
  claimIdleMs: number;
  /** The apps whose streams are read (each app has its own stream, in its own key space). */
  apps: () => string[];
  /** Only events of these apps are applied; others are acknowledged and ignored. */
  isKnownApp: (app: string) => boolean;
  /** Events per read and per pipeline (default 500). */
  batchSize?: number;
}

export interface FeedbackRunOptions {
  /** Stop after this many events (the next run continues); bounds one scheduled job. */
  maxEvents: number;
  onApplied?: (event: FeedbackEvent, action: FeedbackAction) => void;
}

type StreamEntry = [id: string, fields: string[] | null];

function toEvent([id, flat]: StreamEntry): FeedbackEvent {
  const fields: Record<string, string> = {};
  // A claimed entry trimmed meanwhile has no fields (Redis 6.2): it becomes an ignored event.
  for (let i = 0; flat && i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return {
    id,
    app: fields.app ?? '',
    environment: fields.environment ?? '',
    token: fields.token ?? '',
    reason: fields.reason ?? '',
    timestamp: fields.timestamp === undefined ? Number.NaN : Number(fields.timestamp),
  };
}

/** ms part of a stream id (`1700000000000-3` → 1700000000000). */
export function streamIdTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Orders stream ids (`ms-seq`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/**
 * Reads each app's feedback stream through the `purger` consumer group and applies each event
 * with `FeedbackPurger`. Each run first takes over entries a dead consumer left pending
 * (XAUTOCLAIM), then reads new ones. Any number of processes may run at once: the group hands
 * each entry to one consumer, and the purge script's XACK guard makes a doubly claimed entry
 * apply once.
 */
export class FeedbackProcessor {
  private readonly purger: FeedbackPurger;
  private readonly batchSize: number;
  private readonly grouped = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: FeedbackProcessorOptions,
  ) {
    this.purger = new FeedbackPurger(redis, prefix, options.isKnownApp);
    this.batchSize = options.batchSize ?? 500;
  }

  private stream(app: string): string {
    return storeKeys.feedbackStream(this.prefix, app);
  }

  /** Creates the app's group at its stream's start, so events written before the first run count too. */
  async ensureGroup(app: string): Promise<void> {
    if (this.grouped.has(app)) return;
    try {
      await this.redis.xgroup('CREATE', this.stream(app), feedbackGroup, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
    this.grouped.add(app);
  }

  /** One run over every app's stream, at most `maxEvents` events in all. */
  async run(options: FeedbackRunOptions): Promise<{ claimed: number; read: number }> {
    let claimed = 0;
    let read = 0;
    for (const app of this.options.apps()) {
      const left = options.maxEvents - claimed - read;
      if (left <= 0) break;
      const done = await this.runApp(app, { ...options, maxEvents: left });
      claimed += done.claimed;
      read += done.read;
    }
    return { claimed, read };
  }

  private async runApp(app: string, options: FeedbackRunOptions): Promise<{ claimed: number; read: number }> {
    await this.ensureGroup(app);
    const stream = this.stream(app);
    let claimed = 0;
    let read = 0;
    let start = '0-0';
    while (claimed < options.maxEvents) {
      const [next, entries] = (await this.redis.xautoclaim(
        stream,
        feedbackGroup,
        this.options.consumer,
        this.options.claimIdleMs,
        start,
        'COUNT',
        this.batchSize,
      )) as [string, StreamEntry[]];
      claimed += await this.apply(app, entries, options);
      if (next === '0-0') break;
      start = next;
    }
    while (claimed + read < options.maxEvents) {
      const reply = (await this.redis.xreadgroup(
        'GROUP',
        feedbackGroup,
        this.options.consumer,
        'COUNT',
        Math.min(this.batchSize, options.maxEvents - claimed - read),
        'STREAMS',
        stream,
        '>',
      )) as [string, StreamEntry[]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      read += await this.apply(app, entries, options);
    }
    return { claimed, read };
  }

  private async apply(app: string, entries: StreamEntry[], options: FeedbackRunOptions): Promise<number> {
    const events = entries.map(toEvent);
    const actions = await this.purger.apply(app, events);
    events.forEach((event, i) => {
      options.onApplied?.(event, actions[i]!);
    });
    return events.length;
  }

  /**
   * Id of the oldest event not yet applied: the oldest pending one (read, not acknowledged) or
   * the first one the group has not read. Null when everything is applied (or no group yet).
   */
  async oldestUnprocessedId(app: string): Promise<string | null> {
    const stream = this.stream(app);
    let groups: unknown[];
    try {
      groups = (await this.redis.xinfo('GROUPS', stream)) as unknown[];
    } catch {
      return null; // no stream yet
    }
    const group = groups
      .map((flat) => {
        const fields: Record<string, unknown> = {};
        const list = flat as unknown[];
        for (let i = 0; i < list.length; i += 2) fields[String(list[i])] = list[i + 1];
        return fields;
      })
      .find((g) => g.name === feedbackGroup);
    if (!group) {
      const [first] = (await this.redis.xrange(stream, '-', '+', 'COUNT', 1)) as StreamEntry[];
      return first?.[0] ?? null;
    }
    const candidates: string[] = [];
    if (Number(group.pending) > 0) {
      const summary = (await this.redis.xpending(stream, feedbackGroup)) as [number, string | null];
      if (summary[1]) candidates.push(summary[1]);
    }
    const [unread] = (await this.redis.xrange(
      stream,
      `(${String(group['last-delivered-id'])}`,
      '+',
      'COUNT',
      1,
    )) as StreamEntry[];
    if (unread) candidates.push(unread[0]);
    candidates.sort(compareStreamIds);
    return candidates[0] ?? null;
  }

  /** Age of the oldest unapplied event of any app, in seconds (0 when none): the feedback lag. */
  async lagSeconds(now = Date.now()): Promise<number> {
    let lag = 0;
    for (const app of this.options.apps()) {
      const id = await this.oldestUnprocessedId(app);
      if (id) lag = Math.max(lag, (now - streamIdTime(id)) / 1000);
    }
    return lag;
  }
}
