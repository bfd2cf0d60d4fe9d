import type { DeliverProducer } from '@pushfleet/queue';
import type { AppStateStore } from '@pushfleet/store';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';

export interface AppPauseDeps {
  state: AppStateStore;
  producer: DeliverProducer;
  metrics: DeliveryMetrics;
  log: Logger;
  /** Drop the app's connections so the probe after the pause reconnects with fresh credentials. */
  resetTransports(app: string): Promise<void>;
  pauseMs: number;
}

/**
 * When APNs rejects an app's credentials, sending more only burns tokens: pause that app's
 * deliver queue fleet-wide (other apps carry on), say why in Redis for the API, and let any
 * worker resume it when the pause is over, so a probe finds out whether the credentials work.
 */
export class AppPauseController {
  private timer: NodeJS.Timeout | undefined;
  /** Pauses as last read from Redis (refreshed every second): checked per job without a round trip. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly apps: string[],
    private readonly deps: AppPauseDeps,
  ) {}

  /** Pauses the app (or extends nothing if already paused); resolves to when sending resumes. */
  async pause(app: string, reason: string): Promise<number> {
    const existing = await this.deps.state.get(app);
    if (existing && existing.resumeAt > Date.now()) {
      this.known.set(app, existing.resumeAt);
      return existing.resumeAt;
    }
    const now = Date.now();
    const resumeAt = now + this.deps.pauseMs;
    await this.deps.state.pause(app, { reason, since: now, resumeAt });
    this.known.set(app, resumeAt);
    await this.deps.producer.queueFor(app).pause();
    await this.deps.resetTransports(app);
    this.deps.metrics.appPaused.set({ app, reason }, 1); // until the next state sync below
    this.deps.log.error(
      { app, reason, resumeAt: new Date(resumeAt).toISOString() },
      'APNs rejected the app credentials: sending paused for this app; fix the key or certificate',
    );
    return resumeAt;
  }

  pausedUntil(app: string): number | undefined {
    const resumeAt = this.known.get(app);
    return resumeAt !== undefined && resumeAt > Date.now() ? resumeAt : undefined;
  }

  /** Checks every second whether a pause is over; any worker may do the resume (idempotent). */
  start(): void {
    this.timer = setInterval(
      () => void this.resumeDue().catch(() => undefined),
      Math.min(1000, this.deps.pauseMs),
    );
    this.timer.unref();
  }

  /**
   * Resumes apps whose pause is over, and mirrors every app's pause state into the gauge, so
   * each worker reports the fleet-wide truth, not only the pauses it started itself.
   */
  private async resumeDue(): Promise<void> {
    const states = await Promise.all(
      this.apps.map(async (app) => ({ app, state: await this.deps.state.get(app) })),
    );
    this.deps.metrics.appPaused.reset();
    this.known.clear();
    for (const { app, state } of states) {
      if (!state) continue;
      this.known.set(app, state.resumeAt);
      if (state.resumeAt > Date.now()) {
        this.deps.metrics.appPaused.set({ app, reason: state.reason }, 1);
        continue;
      }
      await this.deps.producer.queueFor(app).resume();
      await this.deps.state.clear(app);
      this.deps.log.warn(
        { app, reason: state.reason },
        'pause over: probing APNs with the app credentials again',
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
