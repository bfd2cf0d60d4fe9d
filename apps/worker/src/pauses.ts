import type { Environment } from '@pushfleet/core';
import type { PauseStore } from '@pushfleet/store';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import type { PausePort } from './delivery/ports.ts';

export interface PauseControllerDeps {
  store: PauseStore;
  metrics: DeliveryMetrics;
  log: Logger;
  pauseMs: number;
  /** The pause this worker started: replace the app × environment's connections for the probe. */
  onPause(app: string, environment: Environment): Promise<void>;
  now?: () => number;
}

const key = (app: string, environment: string) => `${app}/${environment}`;

/**
 * When APNs refuses an app's credentials, sending more only burns tokens: pause that app ×
 * environment fleet-wide (other apps and the other environment carry on), say why in Redis, and
 * send again when the pause is over (a probe). Every worker mirrors the fleet's pauses from one
 * hash once a second, so jobs check a pause without a round trip and the gauge tells the truth.
 */
export class PauseController implements PausePort {
  private timer: NodeJS.Timeout | undefined;
  private known = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly deps: PauseControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  pausedUntil(app: string, environment: Environment): number | undefined {
    const resumeAt = this.known.get(key(app, environment));
    return resumeAt !== undefined && resumeAt > this.now() ? resumeAt : undefined;
  }

  async pause(app: string, environment: Environment, reason: string): Promise<number> {
    const now = this.now();
    const resumeAt = await this.deps.store.pause(app, environment, reason, now, this.deps.pauseMs);
    const joined = (this.known.get(key(app, environment)) ?? 0) === resumeAt;
    this.known.set(key(app, environment), resumeAt);
    if (!joined) {
      this.deps.metrics.appPaused.set({ app, environment, reason }, 1);
      this.deps.log.error(
        { app, environment, reason, resumeAt: new Date(resumeAt).toISOString() },
        'APNs refused the app credentials: sending paused for this app and environment; fix the key or certificate',
      );
      await this.deps.onPause(app, environment);
    }
    return resumeAt;
  }

  /** Reads the fleet's pauses now, and then every second. */
  async start(): Promise<void> {
    await this.sync().catch((err) => this.deps.log.warn({ err }, 'cannot read pauses'));
    this.timer = setInterval(
      () => void this.sync().catch((err) => this.deps.log.warn({ err }, 'cannot read pauses')),
      Math.min(1000, this.deps.pauseMs),
    );
    this.timer.unref();
  }

  private async sync(): Promise<void> {
    const now = this.now();
    for (const over of await this.deps.store.expire(now)) {
      const [app, environment] = over.split('/');
      this.deps.log.warn({ app, environment }, 'pause over: probing APNs with the app credentials again');
    }
    const pauses = await this.deps.store.all();
    const known = new Map<string, number>();
    this.deps.metrics.appPaused.reset();
    for (const p of pauses) {
      if (p.resumeAt <= now) continue;
      known.set(key(p.app, p.environment), p.resumeAt);
      this.deps.metrics.appPaused.set({ app: p.app, environment: p.environment, reason: p.reason }, 1);
    }
    this.known = known;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
