// The contract between the transport's pool and one HTTP/2 connection to APNs, shared by both
// clients: the lean client (./h2) and the node:http2 adapter (./node-http2-connection.ts).
import type { SecureContext } from 'node:tls';
import type { PreparedBroadcastHeaders, PreparedNotification } from '@pushfleet/core';
import type { JwtSigner } from './jwt-signer.ts';
import type { SendResult } from './transport.ts';

/**
 * One request's wire form apart from `:path` and `authorization`: a device push (a prepared
 * notification, shared by all its tokens) or a broadcast to one channel (docs/apns-protocol.md
 * §F.2: the prepared broadcast's headers and the channel id).
 */
export type WireRequest =
  | PreparedNotification
  | { headers: PreparedBroadcastHeaders & { 'apns-channel-id': string }; payload: string };

/** A send that never reached APNs' processing: safe to send again at once, elsewhere. */
export type StreamResult = SendResult | { kind: 'not-processed'; error: string; credentials?: true };

/** What the pool needs of one connection. */
export interface ApnsStreamConnection {
  inFlight: number;
  /** Slots promised to callers that will call send() shortly (see ConnectionPool.take). */
  reserved: number;
  readonly closed: boolean;
  /** Set once the connection got an answer (any status) to a request: TLS, auth and SETTINGS all work. */
  readonly proven: boolean;
  /** Resolves once the connection can carry requests, or has failed. Never rejects. */
  ready(): Promise<void>;
  /** Streams this connection may have in flight now: min(own cap, server's SETTINGS). */
  limit(): number;
  capacity(): number;
  /** Sends on a reserved slot; calls `done` exactly once, within the request timeout. */
  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void;
  /**
   * `send` for any path (a broadcast's `/4/broadcasts/apps/<bundle id>`): same slot, same
   * provider token, same exactly-once `done`.
   */
  request(path: string, wire: WireRequest, done: (result: StreamResult) => void): void;
  close(): Promise<void>;
}

export interface CloseDetail {
  /** The TLS handshake refused our client certificate (a TLS alert says so). */
  credentials?: true;
  /**
   * The server closed a connection that presented a client certificate during or right after
   * the handshake, before any SETTINGS. Servers that check certificates outside OpenSSL (node's
   * among them) do that without an alert: the pool counts it as a credentials error when every
   * attempt in a row ends so.
   */
  certificateSuspect?: true;
}

export interface ConnectionEvents {
  onClose?(conn: ApnsStreamConnection, reason: string, detail: CloseDetail): void;
  onSlotFree?(conn: ApnsStreamConnection): void;
  onRequestDone?(seconds: number, result: StreamResult): void;
  onTokenRefresh?(): void;
}

export interface ConnectionOptions extends ConnectionEvents {
  origin: string;
  /**
   * TLS for every connection of a pool: the client certificate (if any) parsed once into a
   * secure context, so a bad one fails when the pool is made, never inside a reconnect.
   */
  tls: { secureContext: SecureContext };
  signer?: JwtSigner;
  /** A client certificate is presented: a TLS refusal is then a credentials error. */
  clientCertificate?: boolean;
  maxInFlight: number;
  requestTimeoutMs: number;
  /** Ping an idle connection this often (Apple: PING is the way to keep an idle connection). */
  pingIntervalMs: number;
  /** A connection without the server's SETTINGS this long after it was opened is given up. */
  settingsTimeoutMs?: number;
  /**
   * How long the lean client reads answers in one event loop turn before it lets the loop run
   * other work (default 2 ms; 0 yields every few frames, for tests).
   */
  readTurnMs?: number;
}

export const timedOut: StreamResult = Object.freeze({ kind: 'failed', error: 'request timeout' });

/**
 * APNs error bodies are one short JSON object (`{"reason":"…","timestamp":…}`, docs/apns-protocol.md
 * §A.8): anything longer is cut here, so a peer cannot make a connection buffer megabytes per stream.
 */
export const maxErrorBodyBytes = 4096;

/**
 * An APNs error answer: the reason and 410 timestamp from its JSON body, Retry-After as a number.
 * After ExpiredProviderToken the connection's signer re-signs, if its token is old enough.
 */
export function rejectionResult(
  status: number,
  body: Buffer,
  retryAfterHeader: unknown,
  connection: Pick<ConnectionOptions, 'signer' | 'onTokenRefresh'>,
): Extract<SendResult, { kind: 'rejected' }> {
  let reason = `HTTP${status}`;
  let timestamp: number | undefined;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { reason?: unknown; timestamp?: unknown };
    // Only a short plain reason is taken: it becomes a metric label.
    if (typeof parsed.reason === 'string' && /^[A-Za-z]{1,64}$/.test(parsed.reason)) reason = parsed.reason;
    const ts = Number(parsed.timestamp);
    if (parsed.timestamp !== undefined && Number.isFinite(ts)) timestamp = ts;
  } catch {
    // A body that is not JSON keeps the HTTP status as its reason.
  }
  if (reason === 'ExpiredProviderToken' && connection.signer?.refreshAfterExpired()) {
    connection.onTokenRefresh?.();
  }
  const result: Extract<SendResult, { kind: 'rejected' }> = { kind: 'rejected', status, reason };
  if (timestamp !== undefined) result.invalidAt = timestamp;
  const retryAfter = Number(retryAfterHeader);
  if (retryAfterHeader !== undefined && Number.isFinite(retryAfter)) result.retryAfter = retryAfter;
  return result;
}

/**
 * A `:status` value as RFC 9113 §8.3.2 allows it: three digits. Anything else makes the response
 * malformed, which the clients treat as a connection error (retryable), never as an answer.
 */
export function parseStatus(value: unknown): number | undefined {
  return typeof value === 'string' && /^[1-5]\d\d$/.test(value) ? Number(value) : undefined;
}

const bodyCache = new WeakMap<WireRequest, Buffer>();

/** A prepared notification's payload as bytes, encoded once for all its tokens. */
export function bodyOf(prepared: WireRequest): Buffer {
  let body = bodyCache.get(prepared);
  if (!body) {
    body = Buffer.from(prepared.payload, 'utf8');
    bodyCache.set(prepared, body);
  }
  return body;
}

/**
 * TLS alerts by which a server refuses the client certificate (OpenSSL error codes as node
 * reports them): a credentials problem, not a network one. Only meaningful when a certificate
 * was presented; with token auth these alerts mean something else is wrong.
 */
const certificateAlert =
  /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED)/;

export function isCertificateRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && certificateAlert.test(code);
}

/** A socket error as a short, safe reason: node's error code when it has one, else the message's first line. */
export function errorText(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  return String(e?.message ?? err)
    .split('\n')[0]!
    .slice(0, 200);
}
