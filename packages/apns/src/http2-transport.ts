import type { PreparedBroadcast, PreparedNotification } from '@pushfleet/core';
import type { ApnsStreamConnection, ConnectionOptions, StreamResult, WireRequest } from './connection.ts';
import { type LoadedCredentials, loadCredentials } from './credentials.ts';
import { LeanConnection } from './h2/lean-connection.ts';
import { JwtSigner } from './jwt-signer.ts';
import { NodeHttp2Connection } from './node-http2-connection.ts';
import { ConnectionPool, type NoSlot, type PoolConnectionEvents } from './pool.ts';
import {
  apnsHosts,
  type PushTransport,
  poolSizeOf,
  type SendResult,
  type TransportStats,
  type TransportTarget,
} from './transport.ts';

/** What the transport tells telemetry; the transport itself knows nothing of Prometheus. */
export interface TransportEvents {
  onConnectionChange?(open: number): void;
  onReconnect?(reason: string): void;
  onRequest?(seconds: number, result: StreamResult): void;
  onTokenRefresh?(): void;
}

/**
 * The HTTP/2 client under each connection. `lean`: Pushfleet's own (packages/apns/src/h2), the
 * default; `node-http2`: node:http2 sessions, the fallback.
 */
export type Http2Client = 'lean' | 'node-http2';

export interface Http2TransportOptions {
  /** Reconnect backoff bounds; a pool whose connections keep failing waits up to maxMs between tries. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
  /** How often a stream APNs never processed (REFUSED_STREAM, past GOAWAY) is re-sent at once. */
  maxResends?: number;
  jwtRefreshAfterMs?: number;
  /** Clock for provider-token ages (tests); Date.now by default. */
  clock?: () => number;
  /** Default: lean. */
  client?: Http2Client;
  /** ConnectionOptions.readTurnMs (lean client). */
  readTurnMs?: number;
}

/** A request that got no stream slot fails as retryable (or as a credentials failure). */
function noSlot(why: NoSlot | undefined): Extract<SendResult, { kind: 'failed' }> {
  return {
    kind: 'failed',
    error: why?.error ?? 'no connection',
    ...(why?.credentials && { credentials: true }),
  };
}

/**
 * APNs over HTTP/2: a self-sizing pool of long-lived connections per app × environment (see
 * ConnectionPool) with in-flight limits that follow the server's SETTINGS, reconnect with
 * backoff, transparent re-send of streams APNs never processed, per-connection JWTs, and
 * Retry-After passed through. Nothing it does throws, now or later from a timer: credentials
 * that cannot be used make every send fail with `credentials: true`, and every send settles in
 * bounded time.
 */
export class Http2Transport implements PushTransport {
  private readonly pool: ConnectionPool | undefined;
  /** Set when the credentials cannot be used: every send fails with it. */
  private readonly unusable: Extract<SendResult, { kind: 'failed' }> | undefined;
  private closing = false;
  /** Tokens of running sends not yet handed to a connection: the pool's queue, for metrics. */
  private queued = 0;

  constructor(
    private readonly target: TransportTarget,
    private readonly events: TransportEvents = {},
    private readonly options: Http2TransportOptions = {},
  ) {
    const outcome = loadCredentials(target);
    if (!outcome.ok) {
      this.unusable = {
        kind: 'failed',
        error: outcome.error,
        ...(outcome.credentials && { credentials: true }),
      };
      return;
    }
    const { endpoint } = target;
    const origin = `https://${endpoint?.host ?? apnsHosts[target.environment]}:${endpoint?.port ?? 443}`;
    this.pool = new ConnectionPool({
      size: poolSizeOf(target),
      acquireTimeoutMs: target.requestTimeoutMs,
      reconnectBaseMs: options.reconnectBaseMs ?? 100,
      reconnectMaxMs: options.reconnectMaxMs ?? 30_000,
      open: (poolEvents) => this.connect(origin, outcome.loaded, poolEvents),
      ...(events.onConnectionChange && { onChange: events.onConnectionChange }),
      ...(events.onReconnect && { onClose: events.onReconnect }),
    });
  }

  private connect(
    origin: string,
    loaded: LoadedCredentials,
    poolEvents: PoolConnectionEvents,
  ): ApnsStreamConnection {
    const { signingKey } = loaded;
    const options: ConnectionOptions = {
      origin,
      tls: { secureContext: loaded.secureContext },
      clientCertificate: loaded.clientCertificate,
      ...(signingKey && {
        // One signer per connection: APNs counts provider-token updates per connection.
        signer: new JwtSigner({
          key: signingKey.key,
          keyId: signingKey.keyId,
          teamId: signingKey.teamId,
          ...(this.options.jwtRefreshAfterMs && { refreshAfterMs: this.options.jwtRefreshAfterMs }),
          ...(this.options.clock && { now: this.options.clock }),
        }),
      }),
      maxInFlight: this.target.maxInFlightPerConnection,
      requestTimeoutMs: this.target.requestTimeoutMs,
      pingIntervalMs: this.options.pingIntervalMs ?? 60_000,
      ...(this.options.readTurnMs !== undefined && { readTurnMs: this.options.readTurnMs }),
      onSlotFree: poolEvents.onSlotFree,
      onClose: poolEvents.onClose,
      ...(this.events.onRequest && { onRequestDone: this.events.onRequest }),
      ...(this.events.onTokenRefresh && { onTokenRefresh: this.events.onTokenRefresh }),
    };
    return this.options.client === 'node-http2'
      ? new NodeHttp2Connection(options)
      : new LeanConnection(options);
  }

  send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    return new Promise((resolve) => {
      const results = new Array<SendResult>(tokens.length);
      let remaining = tokens.length;
      if (remaining === 0) return resolve(results);
      const settle = (index: number, result: SendResult) => {
        results[index] = result;
        if (--remaining === 0) resolve(results);
      };
      const pool = this.pool;
      if (!pool || this.closing) {
        const failure = this.unusable ?? { kind: 'failed', error: 'transport closed' };
        for (let i = 0; i < tokens.length; i++) settle(i, failure);
        return;
      }
      const maxResends = this.options.maxResends ?? 3;
      this.queued += tokens.length;
      const dispatch = (conn: ApnsStreamConnection, index: number, attempt: number): void => {
        conn.send(tokens[index]!, prepared, (result) => {
          if (result.kind !== 'not-processed') return settle(index, result);
          const { error, credentials } = result;
          if (credentials || attempt >= maxResends) {
            return settle(index, { kind: 'failed', error, ...(credentials && { credentials }) });
          }
          // Never processed by APNs (refused, or past a GOAWAY): safe to send again at once.
          pool.acquire((next, why) =>
            next ? dispatch(next, index, attempt + 1) : settle(index, noSlot(why)),
          );
        });
      };
      // Hands out tokens in order, each as soon as a stream slot is free: bounded in-flight.
      let next = 0;
      const pump = (conn: ApnsStreamConnection | undefined, why?: NoSlot): void => {
        if (!conn && why) {
          // No slot in time (or no connection at all): what is left fails as retryable.
          this.queued -= tokens.length - next;
          while (next < tokens.length) settle(next++, noSlot(why));
          return;
        }
        let current = conn;
        while (next < tokens.length) {
          current ??= pool.take();
          if (!current) {
            pool.acquire(pump);
            return;
          }
          this.queued--;
          dispatch(current, next++, 0);
          current = undefined;
        }
      };
      pump(undefined);
    });
  }

  /**
   * One broadcast (docs/apns-protocol.md §F.2): `POST /4/broadcasts/apps/<bundle id>` with the
   * channel id, over the same pooled connections and provider token as device pushes. A single
   * request reaches every activity subscribed to the channel, so there is no batch: one result.
   * Never rejects; settles within the request timeout (plus the same again at most while waiting
   * for a stream slot). A stream APNs never processed is re-sent like a device push's.
   */
  sendBroadcast(prepared: PreparedBroadcast, channelId: string): Promise<SendResult> {
    return new Promise((resolve) => {
      const pool = this.pool;
      if (!pool || this.closing) {
        resolve(this.unusable ?? { kind: 'failed', error: 'transport closed' });
        return;
      }
      const path = `/4/broadcasts/apps/${prepared.bundleId}`;
      const wire: WireRequest = {
        headers: { ...prepared.headers, 'apns-channel-id': channelId },
        payload: prepared.payload,
      };
      const maxResends = this.options.maxResends ?? 3;
      this.queued++;
      let waiting = true;
      const dispatch = (conn: ApnsStreamConnection | undefined, why: NoSlot | undefined, attempt: number) => {
        if (waiting) {
          waiting = false;
          this.queued--;
        }
        if (!conn) return resolve(noSlot(why));
        conn.request(path, wire, (result) => {
          if (result.kind !== 'not-processed') return resolve(result);
          const { error, credentials } = result;
          if (credentials || attempt >= maxResends) {
            return resolve({ kind: 'failed', error, ...(credentials && { credentials }) });
          }
          pool.acquire((next, nextWhy) => dispatch(next, nextWhy, attempt + 1));
        });
      };
      pool.acquire((conn, why) => dispatch(conn, why, 0));
    });
  }

  /**
   * Opens the pool's minimum of connections (at least one) ahead of the first send: a worker's
   * first notifications then skip the TLS handshake, the SETTINGS exchange and the JWT signature.
   * Resolves when each is up or has failed (a failed one reconnects on first use). Never rejects.
   */
  async warm(): Promise<void> {
    await this.pool?.warm();
  }

  /** Requests awaiting an answer across the pool's connections. */
  inFlight(): number {
    return this.pool?.stats().inFlight ?? 0;
  }

  stats(): TransportStats {
    if (!this.pool) return { connections: 0, inFlight: 0, waiting: 0, streamLimit: 0 };
    const { waitingForSlot: _, ...rest } = this.pool.stats();
    return { ...rest, waiting: this.queued };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pool?.close();
  }
}
