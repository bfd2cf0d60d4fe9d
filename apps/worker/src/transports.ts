import {
  createNodeApnTransport,
  FailingTransport,
  Http2Transport,
  type PushTransport,
  type TransportStats,
  type TransportTarget,
} from '@pushfleet/apns';
import { type AppDirectory, type Config, readSecretFile } from '@pushfleet/config';
import type { Environment } from '@pushfleet/core';
import type { DeliveryMetrics, Logger } from '@pushfleet/telemetry';
import { PoolLease } from './pool-lease.ts';

export interface PoolStats extends TransportStats {
  app: string;
  environment: Environment;
}

interface PoolEntry {
  app: string;
  environment: Environment;
  transport: Promise<PoolLease>;
  /** Set once `transport` resolved (the gauges read it synchronously). */
  ready?: PoolLease;
}

/**
 * One transport (a self-sizing pool of long-lived HTTP/2 connections) per app × environment,
 * created on first use, from the app directory (config apps and apps added at run time alike).
 * When an app changes (new credentials, endpoint, pool size) or is deleted, its pools are
 * replaced: new sends use the new settings at once, sends already taken (queued or in flight)
 * finish on the old connections, which then close (`PoolLease`). Never throws:
 * an unknown app or credentials that cannot be had give a transport whose sends all fail (with
 * `credentials: true` for the latter), so the worker's classification decides.
 */
export class TransportRegistry {
  private readonly transports = new Map<string, PoolEntry>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly directory: AppDirectory,
    private readonly metrics: DeliveryMetrics,
    private readonly log?: Logger,
  ) {
    this.unsubscribe = directory.onChange((apps) => {
      for (const app of apps) void this.reset(app);
    });
  }

  get(app: string, environment: Environment): Promise<PushTransport> {
    return this.lease(app, environment);
  }

  private lease(app: string, environment: Environment): Promise<PoolLease> {
    const key = `${app}/${environment}`;
    let entry = this.transports.get(key);
    if (!entry) {
      const transport = this.create(app, environment).then(
        (inner) => new PoolLease(inner, () => this.get(app, environment)),
      );
      const created: PoolEntry = { app, environment, transport };
      void created.transport.then((t) => {
        created.ready = t;
      });
      entry = created;
      this.transports.set(key, entry);
    }
    return entry.transport;
  }

  private async create(app: string, environment: Environment): Promise<PushTransport> {
    const appConfig = this.directory.get(app)?.config;
    if (!appConfig) return new FailingTransport(`no app "${app}"`);
    let credentials: Awaited<ReturnType<AppDirectory['credentials']>>;
    try {
      credentials = await this.directory.credentials(app);
    } catch (err) {
      const error = `credentials: ${(err as Error).message}`;
      this.log?.error({ app, environment, error }, 'APNs credentials cannot be read');
      return new FailingTransport(error, true);
    }
    const endpoint = appConfig.endpoint;
    let caPem: string | undefined;
    try {
      if (endpoint?.caFile) caPem = readSecretFile('endpoint.caFile', endpoint.caFile);
    } catch (err) {
      return new FailingTransport((err as Error).message);
    }
    const target: TransportTarget = {
      environment,
      credentials,
      ...(endpoint && { endpoint: { host: endpoint.host, port: endpoint.port, ...(caPem && { caPem }) } }),
      connections: appConfig.connections,
      maxInFlightPerConnection: this.config.worker.maxInFlightPerConnection,
      requestTimeoutMs: this.config.worker.requestTimeoutMs,
    };
    if (this.config.worker.transport === 'node-apn') return createNodeApnTransport(target);
    const labels = { app, environment };
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
   * Opens the connections of the given app × environments (default: every configured one)
   * before the worker takes jobs, waiting at most `withinMs`: an unreachable APNs must not hold
   * up start-up (sends reconnect anyway). Never rejects; returns the app × environments whose
   * transport cannot be set up (unreadable credentials, unknown app), for the log.
   */
  async warm(
    withinMs: number,
    targets?: readonly { app: string; environment: Environment }[],
  ): Promise<{ app: string; environment: Environment; error: string }[]> {
    const which =
      targets ??
      this.directory
        .ids()
        .flatMap((app) =>
          (this.directory.get(app)?.config.environments ?? []).map((environment) => ({ app, environment })),
        );
    const failed: { app: string; environment: Environment; error: string }[] = [];
    const warming = which.map(async ({ app, environment }) => {
      const transport = (await this.lease(app, environment)).inner;
      if (transport instanceof FailingTransport)
        failed.push({ app, environment, error: transport.failure.error });
      await (transport.warm?.() ?? Promise.resolve()).catch(() => undefined);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([Promise.all(warming), deadline]);
    clearTimeout(timer);
    return failed;
  }

  /** In-flight requests per app × environment, with the pool's queue and stream limit (for the gauges). */
  inFlight(): { app: string; environment: string; value: number; waiting?: number; streamLimit?: number }[] {
    return [...this.transports.values()].flatMap(({ app, environment, ready: transport }) => {
      if (!transport) return [];
      const stats = transport.stats?.();
      return stats
        ? { app, environment, value: stats.inFlight, waiting: stats.waiting, streamLimit: stats.streamLimit }
        : { app, environment, value: transport.inFlight?.() ?? 0 };
    });
  }

  /** Pool size and load per app × environment, read by the metrics at scrape time. */
  pools(): PoolStats[] {
    return [...this.transports.values()].flatMap(({ app, environment, ready }) => {
      const stats = ready?.stats?.();
      return stats ? [{ app, environment, ...stats }] : [];
    });
  }

  /**
   * Drops an app's transports (one environment's, if given), so the next send reconnects with
   * settings and credentials read afresh. Sends the old transport took finish on it; it closes
   * once they are answered.
   */
  async reset(app: string, environment?: Environment): Promise<void> {
    const closing = [];
    for (const [key, entry] of this.transports) {
      if (entry.app === app && (environment === undefined || entry.environment === environment)) {
        // New sends get a new pool at once; requests already in flight on the old one finish
        // there (another job's batch must not fail with "transport closed" and burn an attempt).
        this.transports.delete(key);
        closing.push(this.drainThenClose(entry.transport));
      }
    }
    await Promise.allSettled(closing);
  }

  private async drainThenClose(pending: Promise<PoolLease>): Promise<void> {
    // A send settles within the request timeout, twice over while it waits for a slot.
    await (await pending).retire(2 * this.config.worker.requestTimeoutMs + 1000);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await Promise.allSettled([...this.transports.values()].map(async (e) => (await e.transport).close()));
    this.transports.clear();
  }
}
