import type { Environment, PreparedNotification } from '@pushfleet/core';

/**
 * A send result is a value, never an exception: the worker classifies each one with the
 * reason table in core.
 */
export type SendResult =
  | { kind: 'accepted'; apnsId: string | undefined }
  | {
      kind: 'rejected';
      status: number;
      reason: string;
      /** Apple's 410 timestamp (ms since the epoch). */
      invalidAt?: number;
      /** Seconds, from a Retry-After header. */
      retryAfter?: number;
    }
  | {
      kind: 'failed';
      /** Short and safe to log: never key material, a passphrase or a full device token. */
      error: string;
      /**
       * The app × environment's credentials cannot be used (unreadable or unparseable key or
       * certificate, wrong passphrase, TLS handshake refused for the certificate): every send will
       * fail the same way until they are fixed, so the worker should pause that app × environment
       * rather than retry.
       */
      credentials?: true;
    };

/** A pool's state, for metrics: open connections, streams in flight, requests queued for a slot. */
export interface TransportStats {
  /** Connections open or opening. */
  connections: number;
  inFlight: number;
  /** Requests waiting for a free stream slot: the pool is saturated while this stays above 0. */
  waiting: number;
  /** Streams the pool may have in flight now: Σ min(own cap, server's SETTINGS) over its connections. */
  streamLimit: number;
}

/** The port every APNs transport implements; adapters are checked with `satisfies`. */
export interface PushTransport {
  /**
   * Sends one prepared notification to each token; results are in token order. Never rejects,
   * and every result arrives within a bounded time (the request timeout, plus the same again
   * at most while waiting for a stream slot).
   */
  send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]>;
  /** Opens the connections ahead of the first send, when the transport can. Never rejects. */
  warm?(): Promise<void>;
  /** Requests awaiting an answer, when the transport can tell. */
  inFlight?(): number;
  /** Pool size and load, when the transport can tell. */
  stats?(): TransportStats;
  close(): Promise<void>;
}

export type ApnsCredentials =
  | { type: 'token'; keyPem: string; keyId: string; teamId: string }
  | { type: 'certificate'; certPem?: string; keyPem?: string; pfx?: Buffer; passphrase?: string };

/**
 * How many connections a pool keeps per app × environment. It opens more while every open
 * connection's streams are in use and requests queue (throughput at a real round trip is
 * streams in flight ÷ RTT), up to `max`; connections above `min` close after `shrinkAfterMs`
 * unused, and every one of them after `idleCloseMs` without a send (reopened on demand).
 */
export interface PoolSize {
  min: number;
  max: number;
  idleCloseMs?: number;
  shrinkAfterMs?: number;
}

export const defaultPoolSize: Readonly<Required<PoolSize>> = Object.freeze({
  min: 1,
  // 8 × 500 streams at a 100 ms round trip ≈ 40,000 notifications/s: more than one worker
  // process produces, yet few enough connections per app × environment for APNs and for memory.
  max: 8,
  idleCloseMs: 5 * 60_000,
  shrinkAfterMs: 30_000,
});

export interface TransportTarget {
  environment: Environment;
  credentials: ApnsCredentials;
  /** Overrides Apple's host (the simulator); `caPem` is trusted in addition to the system CAs. */
  endpoint?: { host: string; port: number; caPem?: string };
  /** A number is a fixed pool of that many connections (min = max). */
  connections: number | PoolSize;
  maxInFlightPerConnection: number;
  requestTimeoutMs: number;
}

/** The pool size of a target, defaults filled in. */
export function poolSizeOf(target: Pick<TransportTarget, 'connections'>): Required<PoolSize> {
  const c = target.connections;
  const size = typeof c === 'number' ? { min: c, max: c } : c;
  const max = Math.max(1, size.max);
  return {
    min: Math.min(Math.max(0, size.min), max),
    max,
    idleCloseMs: size.idleCloseMs ?? defaultPoolSize.idleCloseMs,
    shrinkAfterMs: size.shrinkAfterMs ?? defaultPoolSize.shrinkAfterMs,
  };
}

export const apnsHosts: Record<Environment, string> = {
  production: 'api.push.apple.com',
  sandbox: 'api.sandbox.push.apple.com',
};
