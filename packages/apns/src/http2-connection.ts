import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { PreparedNotification } from '@pushfleet/core';
import type { JwtSigner } from './jwt-signer.ts';
import type { SendResult } from './transport.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;

/** A send that never reached APNs' processing: safe to send again at once, elsewhere. */
export type StreamResult = SendResult | { kind: 'not-processed'; error: string };

/** What the transport needs of one connection; `ApnsConnection` (node:http2) and `LeanConnection` provide it. */
export interface ApnsStreamConnection {
  inFlight: number;
  /** Slots promised to callers that will call send() shortly (see Http2Transport.take). */
  reserved: number;
  readonly closed: boolean;
  /** Resolves once the connection can carry requests, or has failed. */
  ready(): Promise<void>;
  capacity(): number;
  /** Sends on a reserved slot; calls `done` exactly once. */
  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void;
  close(): Promise<void>;
}

export interface ConnectionEvents {
  onClose?(conn: ApnsStreamConnection, reason: string): void;
  onSlotFree?(conn: ApnsStreamConnection): void;
  onRequestDone?(seconds: number, result: StreamResult): void;
  onTokenRefresh?(): void;
}

export interface ConnectionOptions extends ConnectionEvents {
  origin: string;
  tls: SecureClientSessionOptions;
  signer?: JwtSigner;
  maxInFlight: number;
  requestTimeoutMs: number;
  /** Ping an idle connection this often (Apple: PING is the way to keep an idle connection). */
  pingIntervalMs: number;
}

export const timedOut: StreamResult = Object.freeze({ kind: 'failed', error: 'request timeout' });

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
    const parsed = JSON.parse(body.toString('utf8')) as { reason?: string; timestamp?: number };
    if (parsed.reason) reason = parsed.reason;
    if (parsed.timestamp !== undefined) timestamp = Number(parsed.timestamp);
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

/** The 'close' handler decides a failed stream's outcome; errors need a listener, nothing more. */
function ignoreStreamError(): void {}

/** One request awaiting its answer; in the connection's pending set until settled. */
class PendingRequest {
  settled = false;
  stream: ClientHttp2Stream | undefined;

  constructor(
    private readonly conn: ApnsConnection,
    readonly done: (result: StreamResult) => void,
    readonly deadline: number,
    readonly started: number,
  ) {}

  finish(result: StreamResult): void {
    if (this.settled) return;
    this.settled = true;
    this.conn.settle(this, result);
  }

  cancel(): void {
    this.stream?.close(NGHTTP2_CANCEL);
    this.finish(timedOut);
  }
}

const bodyCache = new WeakMap<PreparedNotification, Buffer>();

/** A prepared notification's payload as bytes, encoded once for all its tokens. */
export function bodyOf(prepared: PreparedNotification): Buffer {
  let body = bodyCache.get(prepared);
  if (!body) {
    body = Buffer.from(prepared.payload, 'utf8');
    bodyCache.set(prepared, body);
  }
  return body;
}

/**
 * One long-lived HTTP/2 connection to APNs. It never has more streams open than the smaller of
 * its own cap and the server's SETTINGS_MAX_CONCURRENT_STREAMS (which APNs starts at 1 on token
 * connections and may drop to 1 after a rejection), so requests never queue inside Node.
 */
export class ApnsConnection implements ApnsStreamConnection {
  readonly session: ClientHttp2Session;
  inFlight = 0;
  /** Slots promised to callers that will call send() shortly (see Http2Transport.take). */
  reserved = 0;
  closed = false;
  /** Until the server's first SETTINGS arrive, assume APNs' initial limit of one stream. */
  private serverLimit = 1;
  private settingsReceived = false;
  private goawayLastStreamId = Number.POSITIVE_INFINITY;
  private pingTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  /**
   * Requests awaiting an answer, oldest first (a Set keeps insertion order, which is deadline
   * order). One sweep per second cancels the overdue ones: cheaper than a timer per request.
   */
  private readonly pending = new Set<PendingRequest>();

  constructor(private readonly options: ConnectionOptions) {
    this.session = connect(options.origin, { ...options.tls, settings: { enablePush: false } });
    this.session.on('remoteSettings', (settings) => {
      this.serverLimit = settings.maxConcurrentStreams ?? 1000;
      this.settingsReceived = true;
      if (this.capacity() > 0) this.options.onSlotFree?.(this);
    });
    this.session.on('goaway', (_code, lastStreamId) => {
      this.goawayLastStreamId = lastStreamId;
      this.markClosed('goaway');
    });
    this.session.on('error', (err) => this.markClosed(`error: ${err.message}`));
    this.session.on('close', () => {
      // Streams still open end with the session; only now may overdue checks stop.
      clearInterval(this.sweepTimer);
      this.markClosed('closed');
    });
    this.session.setTimeout(0);
    this.pingTimer = setInterval(() => this.pingIfIdle(), options.pingIntervalMs);
    this.pingTimer.unref();
    this.sweepTimer = setInterval(() => this.cancelOverdue(), Math.min(1000, options.requestTimeoutMs));
    this.sweepTimer.unref();
  }

  /**
   * Resolves once the server's SETTINGS have arrived (the connection can carry requests) or the
   * connection has failed; signs the provider token meanwhile, so the first request pays for neither.
   */
  ready(): Promise<void> {
    this.options.signer?.authorization();
    if (this.settingsReceived || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.session.once('remoteSettings', () => resolve());
      this.session.once('close', () => resolve());
    });
  }

  capacity(): number {
    if (this.closed) return 0;
    return Math.min(this.options.maxInFlight, this.serverLimit) - this.inFlight - this.reserved;
  }

  /**
   * Sends on a slot reserved with `reserved++` (the reservation becomes an in-flight stream) and
   * calls `done` exactly once. Callbacks, not promises: this runs once per notification.
   */
  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void {
    if (this.reserved > 0) this.reserved--;
    this.inFlight++;
    const now = Date.now();
    this.lastActivity = now;
    const started = this.options.onRequestDone ? performance.now() : 0;
    const request = new PendingRequest(this, done, now + this.options.requestTimeoutMs, started);
    this.pending.add(request);
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': `/3/device/${token}`,
      ...prepared.headers,
    };
    if (this.options.signer) headers.authorization = this.options.signer.authorization();
    let stream: ClientHttp2Stream;
    try {
      stream = this.session.request(headers, { endStream: false });
    } catch (err) {
      request.finish({ kind: 'not-processed', error: (err as Error).message });
      return;
    }
    request.stream = stream;
    stream.on('response', (responseHeaders) => {
      const status = Number(responseHeaders[':status']);
      if (status === 200) {
        stream.resume();
        request.finish({ kind: 'accepted', apnsId: responseHeaders['apns-id'] as string | undefined });
        return;
      }
      const retryAfterHeader = responseHeaders['retry-after'];
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () =>
        request.finish(rejectionResult(status, Buffer.concat(chunks), retryAfterHeader, this.options)),
      );
    });
    stream.on('close', () => {
      if (request.settled) return;
      // A stream APNs refused, or one past the GOAWAY's last stream id, was never processed.
      const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM || (stream.id ?? 0) > this.goawayLastStreamId;
      request.finish(
        refused || stream.id === undefined
          ? { kind: 'not-processed', error: `stream closed before processing (rst ${stream.rstCode})` }
          : { kind: 'failed', error: `stream closed without a response (rst ${stream.rstCode})` },
      );
    });
    stream.on('error', ignoreStreamError);
    stream.end(bodyOf(prepared));
  }

  /** Called once per request by PendingRequest.finish. */
  settle(request: PendingRequest, result: StreamResult): void {
    this.pending.delete(request);
    this.inFlight--;
    this.options.onRequestDone?.((performance.now() - request.started) / 1000, result);
    request.done(result);
    this.options.onSlotFree?.(this);
  }

  private cancelOverdue(): void {
    const now = Date.now();
    for (const entry of this.pending) {
      if (entry.deadline > now) return;
      entry.cancel();
    }
  }

  private pingIfIdle(): void {
    if (this.closed || Date.now() - this.lastActivity < this.options.pingIntervalMs) return;
    this.session.ping((err) => {
      if (err) this.markClosed(`ping failed: ${err.message}`);
    });
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.options.onClose?.(this, reason);
    // Let streams the server accepted before a GOAWAY finish; close() waits for them.
    if (!this.session.destroyed) this.session.close();
  }

  close(): Promise<void> {
    this.markClosed('shutdown');
    if (this.session.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.session.once('close', () => resolve());
      setTimeout(() => this.session.destroy(), 5000).unref();
    });
  }
}
