import { pendingWork } from '@pushfleet/queue';
import type { ActivityStore } from '@pushfleet/store';
import type { Logger } from '@pushfleet/telemetry';
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface AttachmentDeps {
  activity: ActivityStore;
  /** A connection of its own for the activity channel (a subscriber takes no other commands). */
  subscriber: Redis;
  /** Whether the process serves the app (known and active in the app directory). */
  serves(app: string): boolean;
  /** Starts the BullMQ workers of an app's queues that this attachment runs. */
  start(app: string): Worker[];
  /** All the app's queues, for their job counts (the app is idle only when all are empty). */
  queues(app: string): Queue[];
  log: Logger;
  /** How often the busy set is read (and idle attachments checked). */
  scanMs: number;
  /** An attached app whose queue stayed empty this long is released and detached. */
  idleMs: number;
  now?: () => number;
}

interface Attachment {
  workers: Worker[];
  /** Last time a job of the app started or ended in this worker. */
  lastActivity: number;
}

/**
 * Attaches a BullMQ worker only to apps that have work, and detaches it once their queue stays
 * empty: a worker's Redis connections (one blocking connection per attached app) and its idle
 * commands follow the apps that are busy, not the apps that exist. Apps with work come from the
 * activity set (read every `scanMs`) and its channel (at once, when an idle app gets work). An
 * app with jobs still running anywhere (a crashed worker's, waiting to be taken over) stays
 * attached, so its stalled jobs are taken over.
 */
export class AppAttachments {
  private readonly attached = new Map<string, Attachment>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly deps: AttachmentDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Apps this worker is attached to now. */
  apps(): string[] {
    return [...this.attached.keys()];
  }

  async start(): Promise<void> {
    this.deps.subscriber.on('message', (_channel, app: string) => this.attach(app));
    await this.deps.subscriber.subscribe(this.deps.activity.channel);
    await this.scan();
    this.timer = setInterval(() => void this.scan(), this.deps.scanMs);
    this.timer.unref();
  }

  private attach(app: string): void {
    if (this.closed || this.attached.has(app) || !this.deps.serves(app)) return;
    const workers = this.deps.start(app);
    const attachment: Attachment = { workers, lastActivity: this.now() };
    const touch = () => {
      attachment.lastActivity = this.now();
    };
    for (const worker of workers) {
      worker.on('active', touch);
      worker.on('completed', touch);
      worker.on('failed', touch);
    }
    this.attached.set(app, attachment);
    this.deps.log.debug({ app }, 'attached to the app queue');
  }

  /** One pass: attach to busy apps, release and detach idle ones. Never two passes at once. */
  scan(): Promise<void> {
    this.scanning ??= this.pass()
      .catch((err) => this.deps.log.warn({ err }, 'activity scan failed'))
      .finally(() => {
        this.scanning = undefined;
      });
    return this.scanning;
  }

  private async pass(): Promise<void> {
    const busy = await this.deps.activity.busy(this.now());
    for (const app of busy.keys()) this.attach(app);
    for (const [app, attachment] of this.attached) {
      if (this.closed) return;
      if (!this.deps.serves(app)) {
        await this.detach(app);
        continue;
      }
      if (this.now() - attachment.lastActivity < this.deps.idleMs) continue;
      const version = busy.get(app);
      if (version !== undefined && !(await this.release(app, version))) continue;
      await this.detach(app);
    }
  }

  /** Releases an app whose queue holds nothing ready or running; false while it still has work. */
  private async release(app: string, version: string): Promise<boolean> {
    const work = await pendingWork(this.deps.queues(app));
    if (work.ready + work.active > 0) return false;
    let nextDue: number | undefined;
    if (work.delayed > 0) nextDue = work.soonestDueAt ?? this.now() + this.deps.scanMs;
    return this.deps.activity.release(app, version, nextDue);
  }

  private async detach(app: string): Promise<void> {
    const attachment = this.attached.get(app);
    if (!attachment) return;
    this.attached.delete(app);
    await Promise.all(attachment.workers.map((w) => w.close()));
    this.deps.log.debug({ app }, 'detached from the idle app queue');
  }

  /** Stops attaching and closes every attached worker (their running jobs finish first). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.scanning;
    await Promise.allSettled([...this.attached.values()].flatMap((a) => a.workers.map((w) => w.close())));
    this.attached.clear();
    await this.deps.subscriber.quit().catch(() => this.deps.subscriber.disconnect());
  }
}
