import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import type { PreparedNotification } from '@pushfleet/core';
import {
  type ApnsStreamConnection,
  bodyOf,
  type CloseDetail,
  type ConnectionOptions,
  errorText,
  isCertificateRefusal,
  maxErrorBodyBytes,
  parseStatus,
  rejectionResult,
  type StreamResult,
  timedOut,
  type WireRequest,
} from './connection.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_REFUSED_STREAM } = constants;
/**
 * How long a liveness PING may take before the session is given up as wedged: half the request
 * timeout, within [250 ms, 2 s]. An answered PING costs one round trip (under 200 ms to APNs); a
 * false alarm costs one reconnect, while every request waiting for a slot waits out the probe.
 */
const probeTimeoutFor = (requestTimeoutMs: number) => Math.min(2000, Math.max(250, requestTimeoutMs / 2));

/** The 'close' handler decides a failed stream's outcome; errors need a listener, nothing more. */
function ignoreStreamError(): void {}

/** One request awaiting its answer; in the connection's pending set until settled. */
class PendingRequest {
  settled = false;
  stream: ClientHttp2Stream | undefined;

  constructor(
    private readonly conn: NodeHttp2Connection,
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

/**
 * The node:http2 adapter: one APNs connection on a `node:http2` session, the fallback to the
 * lean client (`worker.transport: node-http2`). It never has more streams open than the smaller
 * of its own cap and the server's SETTINGS_MAX_CONCURRENT_STREAMS (which APNs starts at 1 on token
 * connections and may drop to 1 after a rejection), so requests never queue inside Node.
 *
 * Where node:http2 falls short it is made whole here: a server that never sends SETTINGS is given
 * up after the settings timeout; error bodies are cut at maxErrorBodyBytes; a malformed `:status`
 * ends the connection; and because nghttp2 answers some connection errors (bad HPACK, DATA on an
 * unknown stream) with a GOAWAY of its own while the session still looks open to JavaScript, a
 * request timeout triggers a PING, and a session that cannot answer it is dropped and replaced.
 */
export class NodeHttp2Connection implements ApnsStreamConnection {
  readonly session: ClientHttp2Session;
  inFlight = 0;
  reserved = 0;
  closed = false;
  proven = false;
  /** Until the server's first SETTINGS arrive, assume APNs' initial limit of one stream. */
  private serverLimit = 1;
  private settingsReceived = false;
  private goawayLastStreamId = Number.POSITIVE_INFINITY;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly settingsTimer: NodeJS.Timeout;
  private probeTimer: NodeJS.Timeout | undefined;
  private lastActivity = Date.now();
  private readonly closeDetail: CloseDetail = {};
  /**
   * Requests awaiting an answer, oldest first (a Set keeps insertion order, which is deadline
   * order). One sweep per second cancels the overdue ones: cheaper than a timer per request.
   */
  private readonly pending = new Set<PendingRequest>();

  constructor(private readonly options: ConnectionOptions) {
    this.session = connect(options.origin, {
      secureContext: options.tls.secureContext,
      settings: { enablePush: false },
    });
    this.session.on('remoteSettings', (settings) => {
      this.serverLimit = settings.maxConcurrentStreams ?? 1000;
      if (!this.settingsReceived) {
        this.settingsReceived = true;
        clearTimeout(this.settingsTimer);
      }
      if (this.capacity() > 0) this.options.onSlotFree?.(this);
    });
    this.session.on('goaway', (_code, lastStreamId) => {
      this.goawayLastStreamId = lastStreamId;
      this.markClosed('goaway');
    });
    this.session.on('error', (err) => {
      if (options.clientCertificate && isCertificateRefusal(err)) this.closeDetail.credentials = true;
      this.noteServerClose();
      this.markClosed(`error: ${errorText(err)}`);
    });
    this.session.on('close', () => {
      this.noteServerClose();
      // Streams still open end with the session; only now may overdue checks stop.
      clearInterval(this.sweepTimer);
      clearTimeout(this.probeTimer);
      this.markClosed('closed');
      // Streams node never got to close (a destroyed session) settle here.
      for (const request of [...this.pending]) {
        request.finish(this.withDetail({ kind: 'failed', error: 'connection closed before the response' }));
      }
    });
    this.session.setTimeout(0);
    this.pingTimer = setInterval(() => this.pingIfIdle(), options.pingIntervalMs);
    this.pingTimer.unref();
    this.sweepTimer = setInterval(() => this.cancelOverdue(), Math.min(1000, options.requestTimeoutMs));
    this.sweepTimer.unref();
    // node:http2 has no SETTINGS timeout of its own: a server that completes TLS and then stays
    // silent would hold this connection (and requests waiting for it) forever.
    this.settingsTimer = setTimeout(
      () => this.drop('no SETTINGS from the server in time'),
      options.settingsTimeoutMs ?? options.requestTimeoutMs,
    );
    this.settingsTimer.unref();
  }

  /**
   * Resolves once the server's SETTINGS have arrived (the connection can carry requests) or the
   * connection has failed; signs the provider token meanwhile, so the first request pays for neither.
   */
  ready(): Promise<void> {
    try {
      this.options.signer?.authorization();
    } catch {
      // A signing failure shows on the first request instead.
    }
    if (this.settingsReceived || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.session.once('remoteSettings', () => resolve());
      this.session.once('close', () => resolve());
    });
  }

  limit(): number {
    return this.closed ? 0 : Math.min(this.options.maxInFlight, this.serverLimit);
  }

  /** None while a liveness probe is out: the pool sends elsewhere (or opens another connection) meanwhile. */
  capacity(): number {
    if (this.probeTimer) return 0;
    return this.limit() - this.inFlight - this.reserved;
  }

  /**
   * Sends on a slot reserved with `reserved++` (the reservation becomes an in-flight stream) and
   * calls `done` exactly once. Callbacks, not promises: this runs once per notification.
   */
  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void {
    this.request(`/3/device/${token}`, prepared, done);
  }

  /** `send` for any path: a broadcast's `/4/broadcasts/apps/<bundle id>`. */
  request(path: string, prepared: WireRequest, done: (result: StreamResult) => void): void {
    if (this.reserved > 0) this.reserved--;
    this.inFlight++;
    const now = Date.now();
    this.lastActivity = now;
    const started = this.options.onRequestDone ? performance.now() : 0;
    const request = new PendingRequest(this, done, now + this.options.requestTimeoutMs, started);
    this.pending.add(request);
    let stream: ClientHttp2Stream;
    try {
      const headers: Record<string, string> = {
        ':method': 'POST',
        ':path': path,
        ...prepared.headers,
      };
      if (this.options.signer) headers.authorization = this.options.signer.authorization();
      stream = this.session.request(headers, { endStream: false });
    } catch (err) {
      request.finish({ kind: 'not-processed', error: errorText(err) });
      this.noticeDestroyed();
      return;
    }
    request.stream = stream;
    // A server may answer before it has read the whole body (and never open its window for the
    // rest): once the answer is complete, the unsent rest is reset (NO_ERROR), or the stream would
    // stay half-open and hold the session (and its close) forever.
    stream.on('end', () => {
      if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
    });
    stream.on('response', (responseHeaders) => {
      const status = parseStatus(responseHeaders[':status']?.toString());
      if (status === undefined) {
        // nghttp2 passes a garbled :status through: the answer is unusable, and so is the peer.
        request.finish({ kind: 'failed', error: 'malformed response: :status is not three digits' });
        this.drop('malformed response from the server');
        return;
      }
      if (status === 200) {
        stream.resume();
        // Broadcasts are answered with apns-request-id instead (docs/apns-protocol.md §F.4).
        const id = responseHeaders['apns-id'] ?? responseHeaders['apns-request-id'];
        request.finish({ kind: 'accepted', apnsId: id as string | undefined });
        return;
      }
      const retryAfterHeader = responseHeaders['retry-after'];
      const chunks: Buffer[] = [];
      let length = 0;
      const answer = () =>
        request.finish(rejectionResult(status, Buffer.concat(chunks), retryAfterHeader, this.options));
      stream.on('data', (chunk: Buffer) => {
        if (length + chunk.length <= maxErrorBodyBytes) {
          chunks.push(chunk);
          length += chunk.length;
          return;
        }
        // Longer than any APNs error body: the status is the answer; stop the stream.
        chunks.push(chunk.subarray(0, maxErrorBodyBytes - length));
        length = maxErrorBodyBytes;
        answer();
        stream.close(NGHTTP2_CANCEL);
      });
      stream.on('end', answer);
    });
    stream.on('close', () => {
      this.noticeDestroyed();
      if (request.settled) return;
      // A stream APNs refused, or one past the GOAWAY's last stream id, was never processed.
      const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM || (stream.id ?? 0) > this.goawayLastStreamId;
      // nghttp2 resets a stream whose response is malformed (two :status, a pseudo-header in
      // trailers) with PROTOCOL_ERROR: a peer that answers like that is not trusted with more.
      if (stream.rstCode === NGHTTP2_PROTOCOL_ERROR) this.drop('malformed response from the server');
      // After nghttp2 ended the session itself, new streams are refused locally: find out.
      else if (refused) this.probe();
      request.finish(
        this.withDetail(
          refused || stream.id === undefined
            ? { kind: 'not-processed', error: `stream closed before processing (rst ${stream.rstCode})` }
            : { kind: 'failed', error: `stream closed without a response (rst ${stream.rstCode})` },
        ),
      );
    });
    stream.on('error', ignoreStreamError);
    stream.end(bodyOf(prepared));
  }

  /**
   * node:http2 destroys a session itself on some connection errors (too many CONTINUATION frames,
   * a bad header block) but emits 'error' and 'close' only once the socket has closed, which the
   * server may never do: until then the session looks open and refuses every request. Its
   * streams closing show it first.
   */
  private noticeDestroyed(): void {
    if (!this.closed && this.session.destroyed) this.markClosed('session destroyed by node:http2');
  }

  /** The server ended a connection we still wanted, before its SETTINGS: see CloseDetail.certificateSuspect. */
  private noteServerClose(): void {
    if (this.options.clientCertificate && !this.closed && !this.settingsReceived) {
      this.closeDetail.certificateSuspect = true;
    }
  }

  private withDetail(result: StreamResult): StreamResult {
    return this.closeDetail.credentials && result.kind !== 'accepted' && result.kind !== 'rejected'
      ? { ...result, credentials: true }
      : result;
  }

  /** Called once per request by PendingRequest.finish. */
  settle(request: PendingRequest, result: StreamResult): void {
    this.pending.delete(request);
    this.inFlight--;
    if (result.kind === 'accepted' || result.kind === 'rejected') {
      this.proven = true;
      this.lastActivity = Date.now();
    }
    this.options.onRequestDone?.((performance.now() - request.started) / 1000, result);
    request.done(result);
    this.options.onSlotFree?.(this);
  }

  private cancelOverdue(): void {
    const now = Date.now();
    const first = this.pending.values().next().value;
    if (!first || first.deadline > now) return;
    // Probe first: a cancelled request frees its slot at once, and while the probe is out the
    // pool must not hand that slot to a request for a session that may be dead. node:http2 does
    // not always notice a peer's TCP reset (no 'error', no 'close'; seen in tests/interop), so
    // an unanswered request and an unanswered PING are how the adapter finds out.
    this.probe();
    for (const entry of this.pending) {
      if (entry.deadline > now) break;
      entry.cancel();
    }
  }

  /**
   * A request went unanswered, or was refused: a session nghttp2 has silently ended cannot answer
   * a PING either, and is dropped.
   */
  private probe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(
      () => this.drop('no answer to a PING after a request timeout'),
      probeTimeoutFor(this.options.requestTimeoutMs),
    );
    this.probeTimer.unref();
    try {
      this.session.ping((err) => {
        clearTimeout(this.probeTimer);
        this.probeTimer = undefined;
        if (err) this.drop(`ping failed: ${errorText(err)}`);
        else if (this.capacity() > 0) this.options.onSlotFree?.(this);
      });
    } catch (err) {
      this.drop(`ping failed: ${errorText(err)}`);
    }
  }

  private pingIfIdle(): void {
    if (this.closed || Date.now() - this.lastActivity < this.options.pingIntervalMs) return;
    this.probe();
  }

  /** A broken session: closed for new requests and destroyed at once, so the pool replaces it. */
  private drop(reason: string): void {
    this.markClosed(reason);
    if (!this.session.destroyed) this.session.destroy();
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.settingsTimer);
    this.options.onClose?.(this, reason, this.closeDetail);
    // Let streams the server accepted before a GOAWAY finish; close() waits for them.
    if (!this.session.destroyed) this.session.close();
  }

  close(): Promise<void> {
    this.markClosed('shutdown');
    // Nothing waits for an answer: streams still open are only halves a server left hanging.
    if (this.pending.size === 0 && !this.session.destroyed) this.session.destroy();
    if (this.session.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.session.once('close', () => resolve());
      setTimeout(() => this.session.destroy(), 5000).unref();
    });
  }
}
