import type { Environment } from '@pushfleet/core';

/** The port and its results are the delivery core's (packages/core/src/ports.ts); re-exported here. */
export type { PushTransport, SendResult, TransportStats } from '@pushfleet/core';

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
