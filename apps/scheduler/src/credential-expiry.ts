import type { AppDirectory, CredentialMaterial } from '@pushfleet/config';
import type { Environment } from '@pushfleet/core';
import type { Logger } from '@pushfleet/telemetry';

/** The gauge's part this needs (prom-client's Gauge with labels app, environment). */
export interface ExpiryGauge {
  set(labels: { app: string; environment: string }, value: number): void;
  remove(labels: { app: string; environment: string }): void;
}

export interface CredentialExpiryOptions {
  directory: AppDirectory;
  gauge: ExpiryGauge;
  /** `credentialNotAfter` of packages/apns: ms, null when no date is known, undefined when unreadable. */
  notAfter: (material: CredentialMaterial) => number | null | undefined;
  log: Logger;
  /**
   * How often every app is read again: a config app's certificate file can be replaced on disk
   * (a renewed secret mounted into the pod) without any change event.
   */
  rescanMs: number;
}

/**
 * `pushfleet_credential_expiry_timestamp_seconds{app,environment}` for every app the directory
 * holds, config and registry alike: one series per environment the app serves, the value its
 * certificate's notAfter. Set at start, for the apps a change event names (rotated, added,
 * deleted: the series go), and for every app each `rescanMs`. Kept in the scheduler: one exporter
 * for the fleet (worker replicas would each export the same series), and reading credentials for
 * apps that do not send would break the workers' "idle apps cost nothing".
 */
export class CredentialExpiry {
  private readonly exported = new Map<string, Environment[]>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly options: CredentialExpiryOptions) {}

  async start(): Promise<void> {
    this.unsubscribe = this.options.directory.onChange((apps) => void this.refresh(apps));
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.rescanMs);
    this.timer.unref();
  }

  /** Reads the given apps again (default: every app, and drops series of apps that are gone). */
  refresh(apps?: readonly string[]): Promise<void> {
    const run = this.work.then(() => this.update(apps));
    this.work = run.catch((err) => this.options.log.warn({ err }, 'credential expiry refresh failed'));
    return this.work;
  }

  private async update(apps: readonly string[] | undefined): Promise<void> {
    const { directory } = this.options;
    const which = apps ?? [...new Set([...directory.ids(), ...this.exported.keys()])];
    for (const app of which) await this.updateApp(app);
  }

  private async updateApp(app: string): Promise<void> {
    const { directory, gauge, log } = this.options;
    const entry = directory.get(app);
    let notAfter: number | null | undefined;
    if (entry) {
      try {
        notAfter = this.options.notAfter(await directory.credentials(app));
      } catch (err) {
        // The message is the directory's short, safe one (never key bytes).
        log.warn({ app, error: (err as Error).message }, 'credentials cannot be read for the expiry metric');
      }
    }
    const environments = entry && typeof notAfter === 'number' ? entry.config.environments : [];
    for (const environment of this.exported.get(app) ?? []) {
      if (!environments.includes(environment)) gauge.remove({ app, environment });
    }
    for (const environment of environments) gauge.set({ app, environment }, Math.floor(notAfter! / 1000));
    if (environments.length > 0) this.exported.set(app, [...environments]);
    else this.exported.delete(app);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.work;
  }
}
