import { readFileSync } from 'node:fs';
import {
  type ApnsCredentials,
  createNodeApnTransport,
  Http2Transport,
  type PushTransport,
  type TransportTarget,
} from '@pushfleet/apns';
import type { AppConfig, Config } from '@pushfleet/config';
import type { Environment } from '@pushfleet/core';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';

function readCredentials(app: AppConfig): ApnsCredentials {
  const c = app.credentials;
  if (c.type === 'token') {
    return { type: 'token', keyPem: readFileSync(c.keyFile, 'utf8'), keyId: c.keyId, teamId: c.teamId };
  }
  return {
    type: 'certificate',
    ...(c.certFile && { certPem: readFileSync(c.certFile, 'utf8') }),
    ...(c.keyFile && { keyPem: readFileSync(c.keyFile, 'utf8') }),
    ...(c.pfxFile && { pfx: readFileSync(c.pfxFile) }),
    ...(c.passphrase && { passphrase: c.passphrase }),
  };
}

/**
 * One transport (a pool of long-lived HTTP/2 connections) per app × environment, created on
 * first use and kept for the life of the worker.
 */
export class TransportRegistry {
  private readonly transports = new Map<string, PushTransport>();

  constructor(
    private readonly config: Readonly<Config>,
    private readonly metrics: DeliveryMetrics,
    private readonly log?: Logger,
  ) {}

  get(app: string, environment: Environment): PushTransport {
    const key = `${app}/${environment}`;
    let transport = this.transports.get(key);
    if (!transport) {
      const appConfig = this.config.apps[app];
      if (!appConfig) throw new Error(`no app "${app}" in config`);
      const endpoint = appConfig.endpoint;
      const target: TransportTarget = {
        environment,
        credentials: readCredentials(appConfig),
        ...(endpoint && {
          endpoint: {
            host: endpoint.host,
            port: endpoint.port,
            ...(endpoint.caFile && { caPem: readFileSync(endpoint.caFile, 'utf8') }),
          },
        }),
        connections: appConfig.connections,
        maxInFlightPerConnection: this.config.worker.maxInFlightPerConnection,
        requestTimeoutMs: this.config.worker.requestTimeoutMs,
      };
      transport = this.create(app, target);
      this.transports.set(key, transport);
    }
    return transport;
  }

  private create(app: string, target: TransportTarget): PushTransport {
    if (this.config.worker.transport === 'node-apn') return createNodeApnTransport(target);
    const labels = { app, environment: target.environment };
    const m = this.metrics;
    // One child per label set: a lookup per request instead of hashing the labels each time.
    const requestDuration = m.apnsRequestDuration.labels(labels);
    return new Http2Transport(
      target,
      {
        onConnectionChange: (open) => m.connections.set(labels, open),
        onReconnect: (reason) => {
          m.reconnects.inc(labels);
          // Why a connection closed (GOAWAY and its reason, a protocol error, a lost socket).
          if (reason !== 'shutdown') this.log?.warn({ ...labels, reason }, 'APNs connection closed');
        },
        onRequest: (seconds) => requestDuration.observe(seconds),
        onTokenRefresh: () => m.jwtRefreshes.inc(labels),
      },
      { client: this.config.worker.transport === 'node-http2' ? 'node-http2' : 'lean' },
    );
  }

  /**
   * Opens every configured app × environment's connections before the worker takes jobs, waiting
   * at most `withinMs`: an unreachable APNs must not hold up start-up (sends reconnect anyway).
   * Returns what could not be set up (e.g. an unreadable key file), for the log.
   */
  async warm(withinMs: number): Promise<{ app: string; environment: Environment; error: unknown }[]> {
    const failed: { app: string; environment: Environment; error: unknown }[] = [];
    const warming = Object.entries(this.config.apps).flatMap(([app, appConfig]) =>
      appConfig.environments.map(async (environment) => {
        try {
          await this.get(app, environment).warm?.();
        } catch (error) {
          failed.push({ app, environment, error });
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([Promise.all(warming), deadline]);
    clearTimeout(timer);
    return failed;
  }

  inFlight(): { app: string; environment: string; value: number }[] {
    return [...this.transports].map(([key, transport]) => {
      const [app, environment] = key.split('/') as [string, string];
      return { app, environment, value: transport.inFlight?.() ?? 0 };
    });
  }

  /** Drops an app's transports, so the next send reconnects with credentials read afresh. */
  async reset(app: string): Promise<void> {
    const closing = [];
    for (const [key, transport] of this.transports) {
      if (key.startsWith(`${app}/`)) {
        this.transports.delete(key);
        closing.push(transport.close());
      }
    }
    await Promise.allSettled(closing);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.transports.values()].map((t) => t.close()));
    this.transports.clear();
  }
}
