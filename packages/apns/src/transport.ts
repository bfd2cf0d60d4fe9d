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
  | { kind: 'failed'; error: string };

/** The port every APNs transport implements; adapters are checked with `satisfies`. */
export interface PushTransport {
  /** Sends one prepared notification to each token; results are in token order. */
  send(prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]>;
  /** Opens the connections ahead of the first send, when the transport can. */
  warm?(): Promise<void>;
  /** Requests awaiting an answer, when the transport can tell. */
  inFlight?(): number;
  close(): Promise<void>;
}

export type ApnsCredentials =
  | { type: 'token'; keyPem: string; keyId: string; teamId: string }
  | { type: 'certificate'; certPem?: string; keyPem?: string; pfx?: Buffer; passphrase?: string };

export interface TransportTarget {
  environment: Environment;
  credentials: ApnsCredentials;
  /** Overrides Apple's host (the simulator); `caPem` is trusted in addition to the system CAs. */
  endpoint?: { host: string; port: number; caPem?: string };
  connections: number;
  maxInFlightPerConnection: number;
  requestTimeoutMs: number;
}

export const apnsHosts: Record<Environment, string> = {
  production: 'api.push.apple.com',
  sandbox: 'api.sandbox.push.apple.com',
};
