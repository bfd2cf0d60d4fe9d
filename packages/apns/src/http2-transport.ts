import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { SecureClientSessionOptions } from 'node:http2';
import { rootCertificates } from 'node:tls';
import type { PreparedNotification } from '@pushfleet/core';
import { LeanConnection } from './h2/lean-connection.ts';
import { ApnsConnection, type ApnsStreamConnection, type StreamResult } from './http2-connection.ts';
import { JwtSigner } from './jwt-signer.ts';
import { apnsHosts, type PushTransport, type SendResult, type TransportTarget } from './transport.ts';

/** What the transport tells telemetry; the transport itself knows nothing of Prometheus. */
export interface TransportEvents {
  onConnectionChange?(open: number): void;
  onReconnect?(reason: string): void;
  onRequest?(seconds: number, result: StreamResult): void;
  onTokenRefresh?(): void;
}

export interface Http2TransportOptions {
  /** Reconnect backoff bounds; a connection that keeps failing waits up to maxMs between tries. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
  /** How often a stream APNs never processed (REFUSED_STREAM, past GOAWAY) is re-sent at once. */
  maxResends?: number;
  jwtRefreshAfterMs?: number;
  /** Clock for provider-token ages (tests); Date.now by default. */
  clock?: () => number;
  /**
   * The HTTP/2 client under each connection: `lean` speaks HTTP/2 itself over a TLS socket
   * (packages/apns/src/h2), `node-http2` uses `node:http2` sessions. Default: lean.
   */
  client?: 'lean' | 'node-http2';
}

/**
 * The lean transport: a pool of long-lived HTTP/2 connections per app × environment (Pushfleet's
 * own client in ./h2 by default, `node:http2` sessions on request),
 * with in-flight limits that follow the server's SETTINGS, reconnect with backoff, transparent
 * re-send of streams APNs never processed, per-connection JWTs, and Retry-After passed through.
 */
export class Http2Transport implements PushTransport {
  private readonly slots: (ApnsStreamConnection | undefined)[];
  private readonly failures: number[];
  private readonly nextAttemptAt: number[];
  private readonly waiters: ((conn: ApnsStreamConnection | undefined) => void)[] = [];
  private readonly origin: string;
  private readonly tls: SecureClientSessionOptions;
  private readonly key: KeyObject | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly target: TransportTarget,
    private readonly events: TransportEvents = {},
    private readonly options: Http2TransportOptions = {},
  ) {
    const { endpoint, credentials } = target;
    this.origin = `https://${endpoint?.host ?? apnsHosts[target.environment]}:${endpoint?.port ?? 443}`;
    this.tls = endpoint?.caPem ? { ca: [...rootCertificates, endpoint.caPem] } : {};
    if (credentials.type === 'token') {
      this.key = createPrivateKey(credentials.keyPem);
    } else {
      Object.assign(this.tls, {
        ...(credentials.certPem && { cert: credentials.certPem }),
        ...(credentials.keyPem && { key: credentials.keyPem }),
        ...(credentials.pfx && { pfx: credentials.pfx }),
        ...(credentials.passphrase && { passphrase: credentials.passphrase }),
      });
    }
    this.slots = new Array(target.connections).fill(undefined);
    this.failures = new Array(target.connections).fill(0);
    this.nextAttemptAt = new Array(target.connections).fill(0);
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
      const maxResends = this.options.maxResends ?? 3;
      const dispatch = (conn: ApnsStreamConnection | undefined, index: number, attempt: number): void => {
        if (!conn) {
          settle(index, { kind: 'failed', error: this.closing ? 'transport closed' : 'no connection' });
          return;
        }
        conn.send(tokens[index]!, prepared, (result) => {
          if (result.kind !== 'not-processed') {
            if (result.kind !== 'failed') this.markHealthy(conn);
            return settle(index, result);
          }
          if (attempt >= maxResends) return settle(index, { kind: 'failed', error: result.error });
          // Never processed by APNs (refused, or past a GOAWAY): safe to send again at once.
          this.acquire((next) => dispatch(next, index, attempt + 1));
        });
      };
      // Hands out tokens in order, each as soon as a stream slot is free: bounded in-flight.
      let next = 0;
      const pump = (conn: ApnsStreamConnection | undefined): void => {
        let current = conn;
        while (next < tokens.length && !this.closing) {
          current ??= this.take();
          if (!current) {
            this.enqueueWaiter(pump);
            return;
          }
          dispatch(current, next++, 0);
          current = undefined;
        }
        // Closing: whatever was not handed out fails as retryable.
        while (next < tokens.length) settle(next++, { kind: 'failed', error: 'transport closed' });
      };
      pump(undefined);
    });
  }

  /** Calls `use` with a reserved connection now, or when one frees up (undefined if closing). */
  private acquire(use: (conn: ApnsStreamConnection | undefined) => void): void {
    const conn = this.take();
    if (conn || this.closing) use(conn);
    else this.enqueueWaiter(use);
  }

  /**
   * Waits for a free slot. With every connection down and in reconnect backoff no slot will free
   * up by itself, so a timer retries when the earliest backoff ends.
   */
  private enqueueWaiter(waiter: (conn: ApnsStreamConnection | undefined) => void): void {
    this.waiters.push(waiter);
    if (this.slots.some((c) => c && !c.closed)) return;
    this.scheduleRetry(Math.max(0, Math.min(...this.nextAttemptAt) - Date.now()));
  }

  /** Reserves a stream slot on the best connection; the caller must send on it. */
  private take(): ApnsStreamConnection | undefined {
    const conn = this.pick();
    if (conn) conn.reserved++;
    return conn;
  }

  /** The open connection with the most free streams, opening or re-opening slots as backoff allows. */
  private pick(): ApnsStreamConnection | undefined {
    if (this.closing) return undefined;
    let best: ApnsStreamConnection | undefined;
    let bestCapacity = 0;
    for (let i = 0; i < this.slots.length; i++) {
      let conn = this.slots[i];
      if (!conn || conn.closed) conn = this.reopen(i);
      if (!conn) continue;
      const capacity = conn.capacity();
      if (capacity > bestCapacity) {
        best = conn;
        bestCapacity = capacity;
      }
    }
    return best;
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      const conn = this.take();
      if (!conn) return;
      this.waiters.shift()!(conn);
    }
  }

  private reopen(i: number): ApnsStreamConnection | undefined {
    const now = Date.now();
    if (now < this.nextAttemptAt[i]!) {
      this.scheduleRetry(this.nextAttemptAt[i]! - now);
      return undefined;
    }
    const failures = this.failures[i]!;
    const base = this.options.reconnectBaseMs ?? 100;
    const delay =
      failures === 0 ? 0 : Math.min(this.options.reconnectMaxMs ?? 30_000, base * 2 ** (failures - 1));
    // Jitter so a fleet does not reconnect in lock-step after an APNs restart.
    this.nextAttemptAt[i] = now + delay / 2 + (Math.random() * delay) / 2;
    this.failures[i] = failures + 1;
    const Connection = this.options.client === 'node-http2' ? ApnsConnection : LeanConnection;
    const conn = new Connection({
      origin: this.origin,
      tls: this.tls,
      ...(this.key && {
        signer: new JwtSigner({
          key: this.key,
          keyId: (this.target.credentials as { keyId: string }).keyId,
          teamId: (this.target.credentials as { teamId: string }).teamId,
          ...(this.options.jwtRefreshAfterMs && { refreshAfterMs: this.options.jwtRefreshAfterMs }),
          ...(this.options.clock && { now: this.options.clock }),
        }),
      }),
      maxInFlight: this.target.maxInFlightPerConnection,
      requestTimeoutMs: this.target.requestTimeoutMs,
      pingIntervalMs: this.options.pingIntervalMs ?? 60_000,
      onSlotFree: () => this.wake(),
      onClose: (_c, reason) => {
        this.events.onReconnect?.(reason);
        this.reportOpen();
        this.wake();
      },
      ...(this.events.onRequest && { onRequestDone: this.events.onRequest }),
      ...(this.events.onTokenRefresh && { onTokenRefresh: this.events.onTokenRefresh }),
    });
    this.slots[i] = conn;
    this.reportOpen();
    return conn;
  }

  private markHealthy(conn: ApnsStreamConnection): void {
    const i = this.slots.indexOf(conn);
    if (i >= 0) {
      this.failures[i] = 0;
      this.nextAttemptAt[i] = 0;
    }
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer || this.waiters.length === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wake();
    }, ms);
  }

  private reportOpen(): void {
    this.events.onConnectionChange?.(this.slots.filter((c) => c && !c.closed).length);
  }

  /**
   * Opens every connection of the pool ahead of the first send: a worker's first notifications
   * then skip the TLS handshake, the SETTINGS exchange and the JWT signature. Resolves when each
   * connection is up or has failed (a failed one reconnects on first use, as always).
   */
  async warm(): Promise<void> {
    const opening: Promise<void>[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const conn = this.slots[i] && !this.slots[i]!.closed ? this.slots[i] : this.reopen(i);
      if (conn) opening.push(conn.ready());
    }
    await Promise.all(opening);
  }

  /** Requests awaiting an answer across the pool's connections. */
  inFlight(): number {
    return this.slots.reduce((sum, c) => sum + (c && !c.closed ? c.inFlight : 0), 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    await Promise.all(this.slots.map((c) => c?.close()));
    this.reportOpen();
  }
}
