import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { PreparedNotification } from '@pushfleet/core';
import {
  type ApnsStreamConnection,
  bodyOf,
  type CloseDetail,
  type ConnectionOptions,
  errorText,
  isCertificateRefusal,
  type StreamResult,
  timedOut,
  type WireRequest,
} from '../connection.ts';
import { checkFrame, parseSettings } from './frame-rules.ts';
import {
  ConnectionError,
  clientPreface,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  frame,
  goawayFrame,
  rstStreamFrame,
  Setting,
  settingsFrame,
  unpad,
  windowUpdateFrame,
} from './frames.ts';
import { type HeaderBlock, HeaderBlockAssembler } from './header-block.ts';
import { HpackDecoder, HpackError } from './hpack.ts';
import { LeanStream } from './lean-stream.ts';
import { Outbox } from './outbox.ts';
import { RequestEncoder } from './request-encoder.ts';
import { SendFlow } from './send-flow.ts';

/**
 * Our connection-level receive window. APNs answers are a few headers and at most a short JSON
 * body, consumed the moment they arrive; 1 MB lets a thousand streams answer at once. Streams
 * keep the protocol's 64 KB window and never get more: an error body longer than
 * maxErrorBodyBytes ends its stream (so a peer cannot make us buffer megabytes per stream).
 */
const connectionReceiveWindow = 1 << 20;
const pingTimeoutMs = 10_000;

/**
 * How long one read of answers may run before the rest waits for the next event loop turn:
 * measured in the fairness benchmark (BENCHMARKS.md), a burst of a large campaign's answers
 * otherwise holds the loop for tens of milliseconds while another app's notification waits.
 */
const defaultReadTurnMs = 2;
const protocolError = (message: string) => new ConnectionError(ErrorCode.protocolError, message);

/**
 * The lean client: one APNs connection speaking HTTP/2 itself over a TLS socket. No `node:http2`
 * session, so a request costs one HEADERS and one DATA frame written into a shared buffer, and a
 * response a frame parse and an HPACK decode — about a tenth of node:http2's CPU per request,
 * which is why Pushfleet keeps its own client (node:http2 stays one setting away). Never more
 * streams than min(own cap, server's SETTINGS); refused and post-GOAWAY streams reported as not
 * processed; overdue requests cancelled by one sweeper; every protocol violation by the peer is
 * a connection error that settles its requests as retryable, never an exception.
 */
export class LeanConnection implements ApnsStreamConnection {
  inFlight = 0;
  reserved = 0;
  closed = false;
  proven = false;
  private readonly socket: TLSSocket;
  private readonly streams = new Map<number, LeanStream>();
  private readonly decoder = new HpackDecoder();
  private readonly reader: FrameReader;
  private readonly encoder: RequestEncoder;
  private readonly outbox: Outbox;
  private readonly flow: SendFlow;
  private readonly headerBlocks = new HeaderBlockAssembler();
  private nextStreamId = 1;
  /** The last stream id handed to the socket: later ones never left this process. */
  private highestWrittenId = 0;
  /** Set after a fatal protocol error: nothing more that arrives is parsed. */
  private dead = false;
  private serverLimit = 1;
  private settingsReceived = false;
  /** DATA bytes received since our last connection WINDOW_UPDATE. */
  private received = 0;
  private goawayLastStreamId = Number.POSITIVE_INFINITY;
  private pingSentAt = 0;
  private readonly openedAt = Date.now();
  private lastActivity = this.openedAt;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly socketClosed: Promise<void>;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly closeDetail: CloseDetail = {};
  constructor(private readonly options: ConnectionOptions) {
    const url = new URL(options.origin);
    const port = Number(url.port || 443);
    this.encoder = new RequestEncoder(url.port ? `${url.hostname}:${url.port}` : url.hostname);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    this.reader = new FrameReader((type, flags, id, payload) => this.onFrame(type, flags, id, payload));
    this.socket = connect({
      secureContext: options.tls.secureContext,
      host,
      port,
      ...(isIP(host) === 0 && { servername: host }),
      ALPNProtocols: ['h2'],
    });
    this.socket.setNoDelay(true);
    this.outbox = new Outbox(
      this.socket,
      () => {
        this.highestWrittenId = this.nextStreamId - 2;
      },
      () => {
        // A peer that stopped reading: nothing more can reach it, and our buffer would only grow.
        this.dead = true;
        this.markClosed('the server stopped reading');
        this.socket.destroy();
      },
    );
    this.flow = new SendFlow(
      (buf) => this.write(buf),
      (stream) => this.streams.has(stream.id),
    );
    this.socket.once('secureConnect', () => {
      if (this.socket.alpnProtocol !== 'h2') return this.fail('server did not negotiate h2');
      // The preface goes first; requests made while the handshake ran follow it.
      this.outbox.start([
        clientPreface,
        settingsFrame([[Setting.enablePush, 0]]),
        windowUpdateFrame(0, connectionReceiveWindow - 65_535),
      ]);
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => {
      if (options.clientCertificate && isCertificateRefusal(err)) this.closeDetail.credentials = true;
      this.noteServerClose();
      this.markClosed(`error: ${errorText(err)}`);
    });
    this.socketClosed = new Promise((resolve) =>
      this.socket.once('close', () => {
        clearInterval(this.sweepTimer);
        // Answers read before the close but left for a later turn still count.
        if (!this.dead) this.guard(() => this.reader.resume());
        this.noteServerClose();
        this.markClosed('closed');
        const credentials = this.closeDetail.credentials;
        // Never written, or past the GOAWAY: APNs never saw it, so it may be re-sent at once.
        // Written and unanswered: it may have been delivered, so it is a retryable failure.
        for (const stream of [...this.streams.values()]) {
          const result: StreamResult =
            stream.id > this.highestWrittenId || stream.id > this.goawayLastStreamId
              ? { kind: 'not-processed', error: 'connection closed before the request was sent' }
              : { kind: 'failed', error: 'connection closed before the response' };
          this.finish(stream, credentials ? { ...result, credentials } : result);
        }
        resolve();
      }),
    );
    this.pingTimer = setInterval(() => this.guard(() => this.pingIfIdle()), options.pingIntervalMs);
    this.pingTimer.unref();
    this.sweepTimer = setInterval(
      () => this.guard(() => this.sweep()),
      Math.min(1000, options.requestTimeoutMs),
    );
    this.sweepTimer.unref();
  }

  ready(): Promise<void> {
    // Signs the provider token meanwhile, so the first request pays for neither.
    this.guard(() => this.options.signer?.authorization());
    if (this.settingsReceived || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private wakeReadyWaiters(): void {
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  limit(): number {
    return this.closed ? 0 : Math.min(this.options.maxInFlight, this.serverLimit);
  }

  capacity(): number {
    return this.limit() - this.inFlight - this.reserved;
  }

  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void {
    this.start(`/3/device/${token}`, prepared, done);
  }

  request(path: string, wire: WireRequest, done: (result: StreamResult) => void): void {
    // :path goes out as latin1 with its length in characters: printable ASCII only.
    if (!/^\/[\x21-\x7e]*$/.test(path)) {
      if (this.reserved > 0) this.reserved--;
      done({ kind: 'failed', error: 'cannot encode the request: the path is not printable ASCII' });
      this.options.onSlotFree?.(this);
      return;
    }
    this.start(path, wire, done);
  }

  private start(path: string, prepared: WireRequest, done: (result: StreamResult) => void): void {
    if (this.reserved > 0) this.reserved--;
    if (this.closed) {
      done({ kind: 'not-processed', error: 'connection closed' });
      this.options.onSlotFree?.(this);
      return;
    }
    // Encoded before any state changes: a header APNs cannot carry fails this request only.
    let parts: ReturnType<RequestEncoder['parts']>;
    try {
      parts = this.encoder.parts(prepared, this.options.signer?.authorization());
    } catch (err) {
      done({ kind: 'failed', error: `cannot encode the request: ${errorText(err)}` });
      this.options.onSlotFree?.(this);
      return;
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.inFlight++;
    const started = this.options.onRequestDone ? performance.now() : 0;
    const stream = new LeanStream(
      id,
      done,
      Date.now() + this.options.requestTimeoutMs,
      started,
      this.flow.initialWindow,
    );
    this.streams.set(id, stream);
    const body = bodyOf(prepared);
    // The common case: HEADERS and the whole DATA frame in one buffer.
    const whole = this.flow.fits(stream, body.length);
    this.write(this.encoder.encode(id, path, parts, whole ? body : undefined));
    if (whole) this.flow.consume(stream, body.length);
    else {
      stream.unsent = body;
      this.flow.send(stream);
    }
    // Stream ids are 31 bits: a connection that used them all drains, and the pool opens another.
    if (this.nextStreamId > 0x7fffffff) this.markClosed('stream ids exhausted');
  }

  private write(buf: Buffer): void {
    this.outbox.write(buf);
  }

  private endSocket(): void {
    this.outbox.flush();
    if (this.socket.writable) this.socket.end();
    // A peer that never closes its side does not keep the socket (and this object) alive.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  /** Timer and socket callbacks run through here: a bug or a hostile peer ends the connection, never the process. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.onConnectionError(err);
    }
  }

  /** The server ended a connection we still wanted, before its SETTINGS: see CloseDetail.certificateSuspect. */
  private noteServerClose(): void {
    if (this.options.clientCertificate && !this.closed && !this.settingsReceived) {
      this.closeDetail.certificateSuspect = true;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    this.lastActivity = Date.now();
    this.readTurn((until) => this.reader.push(chunk, until));
  }

  /**
   * Reads answers for at most `readTurnMs` of this event loop turn. A read that holds more (a
   * campaign's burst) leaves the rest for the next turn with the socket paused, so other
   * connections, Redis replies and timers (another app's single notification) are not kept
   * waiting behind the whole burst.
   */
  private readTurn(read: (until: () => boolean) => boolean): void {
    const end = performance.now() + (this.options.readTurnMs ?? defaultReadTurnMs);
    this.guard(() => {
      if (read(() => performance.now() >= end)) {
        this.socket.pause();
        setImmediate(() => {
          if (!this.dead) this.readTurn((until) => this.reader.resume(until));
        });
      } else if (this.socket.isPaused()) this.socket.resume();
    });
  }

  private onConnectionError(err: unknown): void {
    if (this.dead) return;
    this.dead = true;
    const code =
      err instanceof HpackError
        ? ErrorCode.compressionError
        : err instanceof ConnectionError
          ? err.code
          : ErrorCode.internalError;
    const kind =
      err instanceof HpackError ? 'HPACK' : err instanceof ConnectionError ? 'protocol' : 'internal';
    this.fail(`${kind} error: ${errorText(err)}`, code);
  }

  /** Client-initiated ids we have not used yet, and every even (server-initiated) id: no frame may name them. */
  private isIdle(id: number): boolean {
    return id % 2 === 0 || id >= this.nextStreamId;
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    checkFrame(type, id, payload.length);
    if (this.headerBlocks.streamId !== 0 && type !== FrameType.continuation) {
      throw protocolError('expected CONTINUATION');
    }
    switch (type) {
      case FrameType.headers: {
        if (this.isIdle(id)) throw protocolError(`HEADERS on idle stream ${id}`);
        const block = this.headerBlocks.headers(id, flags, payload);
        if (block) this.onHeaderBlock(block);
        return;
      }
      case FrameType.continuation: {
        const block = this.headerBlocks.continuation(id, flags, payload);
        if (block) this.onHeaderBlock(block);
        return;
      }
      case FrameType.data:
        this.onDataFrame(flags, id, payload);
        return;
      case FrameType.rstStream:
        if (this.isIdle(id)) throw protocolError(`RST_STREAM on idle stream ${id}`);
        this.onReset(id, payload.readUInt32BE(0));
        return;
      case FrameType.settings:
        if (!(flags & Flag.ack)) this.onSettings(payload);
        return;
      case FrameType.ping:
        if (flags & Flag.ack) this.pingSentAt = 0;
        else {
          this.outbox.owe();
          this.write(frame(FrameType.ping, Flag.ack, 0, Buffer.from(payload)));
        }
        return;
      case FrameType.goaway:
        this.onGoaway(payload);
        return;
      case FrameType.windowUpdate:
        this.onWindowUpdate(id, payload.readUInt32BE(0) & 0x7fffffff);
        return;
      case FrameType.pushPromise:
        throw protocolError('PUSH_PROMISE although push is disabled');
      default:
      // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  private onHeaderBlock({ streamId: id, block, endStream }: HeaderBlock): void {
    // Decoded even for streams already closed: the HPACK table must see every block.
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(id);
    if (!stream) return;
    this.settleOnError(stream, () => stream.onHeaders(fields, endStream));
    if (endStream) this.complete(stream);
  }

  /** A malformed answer fails its own stream at once; the connection error settles the others. */
  private settleOnError(stream: LeanStream, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.finish(stream, { kind: 'failed', error: errorText(err) });
      throw err;
    }
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    // Every DATA byte counts against the connection window, padding included (RFC 9113 §6.9.1).
    if (payload.length > connectionReceiveWindow - this.received) {
      throw new ConnectionError(ErrorCode.flowControlError, 'DATA beyond the connection window');
    }
    this.received += payload.length;
    if (this.received >= connectionReceiveWindow / 2) {
      this.write(windowUpdateFrame(0, this.received));
      this.received = 0;
    }
    if (this.isIdle(id)) throw protocolError(`DATA on idle stream ${id}`);
    const data = unpad(FrameType.data, flags, payload);
    const stream = this.streams.get(id);
    if (!stream) return; // a stream we already finished or reset
    let more = true;
    this.settleOnError(stream, () => {
      more = stream.onData(data);
    });
    if (!more && !(flags & Flag.endStream)) {
      // Longer than any APNs error body: the status is the answer; stop the stream's flow.
      this.resetStream(stream, ErrorCode.cancel);
      this.complete(stream);
    } else if (flags & Flag.endStream) this.complete(stream);
  }

  private complete(stream: LeanStream): void {
    this.finish(stream, stream.result(this.options));
  }

  private onReset(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    // The peer closed the stream: answering its RST_STREAM with ours is forbidden (RFC 9113 §5.4.2).
    stream.reset = true;
    if (stream.status !== 0) {
      // APNs answered before resetting the rest of the stream (e.g. a 200 before the body was
      // read): the answer stands.
      this.complete(stream);
      return;
    }
    this.finish(
      stream,
      code === ErrorCode.refusedStream
        ? { kind: 'not-processed', error: 'stream refused (rst 7)' }
        : { kind: 'failed', error: `stream reset without a response (rst ${code})` },
    );
  }

  private onWindowUpdate(id: number, increment: number): void {
    if (increment === 0) throw protocolError('WINDOW_UPDATE of 0');
    if (id === 0) {
      this.flow.update(undefined, increment);
      return;
    }
    if (this.isIdle(id)) throw protocolError(`WINDOW_UPDATE on idle stream ${id}`);
    const stream = this.streams.get(id);
    if (stream) this.flow.update(stream, increment);
  }

  private onSettings(payload: Buffer): void {
    const settings = parseSettings(payload);
    if (settings.maxConcurrentStreams !== undefined) this.serverLimit = settings.maxConcurrentStreams;
    if (settings.headerTableSizeChanged) this.encoder.tableSizeChanged();
    if (settings.initialWindowSize !== undefined) {
      this.flow.setInitialWindow(settings.initialWindowSize, this.streams.values());
    }
    this.outbox.owe();
    this.write(frame(FrameType.settings, Flag.ack, 0));
    if (!this.settingsReceived) {
      this.settingsReceived = true;
      this.wakeReadyWaiters();
      // Without SETTINGS_MAX_CONCURRENT_STREAMS the limit is unbounded (RFC 9113 §6.5.2).
      if (settings.maxConcurrentStreams === undefined) this.serverLimit = 1000;
    }
    if (this.capacity() > 0) this.options.onSlotFree?.(this);
  }

  private onGoaway(payload: Buffer): void {
    this.goawayLastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    // The debug text goes to a log line: short and printable only.
    const debug = payload
      .subarray(8, 8 + 200)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '?');
    // Closed first: the re-sends below must go to another connection, never this one.
    this.markClosed(`goaway ${code}${debug ? `: ${debug}` : ''}`);
    // Streams past the last one APNs processed were never seen: re-sendable elsewhere, at once.
    for (const stream of [...this.streams.values()]) {
      if (stream.id > this.goawayLastStreamId) {
        this.finish(stream, { kind: 'not-processed', error: 'stream past the GOAWAY' });
      }
    }
  }

  /** Ends our side of a stream (once): RST_STREAM, and its unsent payload dropped. */
  private resetStream(stream: LeanStream, code: number): void {
    if (stream.reset) return;
    stream.reset = true;
    stream.unsent = undefined;
    if (!this.closed) this.write(rstStreamFrame(stream.id, code));
  }

  private finish(stream: LeanStream, result: StreamResult): void {
    if (!this.streams.delete(stream.id)) return;
    // Answered (or given up) before its body went out: close our half, or the server keeps the
    // stream open and counts it against its limit.
    if (stream.unsent) this.resetStream(stream, ErrorCode.cancel);
    if (result.kind === 'accepted' || result.kind === 'rejected') this.proven = true;
    this.inFlight--;
    this.options.onRequestDone?.((performance.now() - stream.started) / 1000, result);
    stream.done(result);
    if (this.closed && this.streams.size === 0) this.endSocket();
    this.options.onSlotFree?.(this);
  }

  private sweep(): void {
    const now = Date.now();
    // Map order is stream order, which is deadline order: stop at the first not yet due.
    for (const stream of this.streams.values()) {
      if (stream.deadline > now) break;
      this.resetStream(stream, ErrorCode.cancel);
      this.finish(stream, timedOut);
    }
    if (this.pingSentAt !== 0 && now - this.pingSentAt > pingTimeoutMs) this.fail('ping not answered');
    // A server that accepts the connection but never completes TLS and SETTINGS is as good as down.
    const settingsTimeoutMs = this.options.settingsTimeoutMs ?? this.options.requestTimeoutMs;
    if (!this.settingsReceived && now - this.openedAt > settingsTimeoutMs) {
      this.fail('no SETTINGS from the server in time');
      this.socket.destroy();
    }
  }

  private pingIfIdle(): void {
    if (this.closed || this.pingSentAt !== 0) return;
    if (Date.now() - this.lastActivity < this.options.pingIntervalMs) return;
    this.pingSentAt = Date.now();
    this.write(frame(FrameType.ping, 0, 0, Buffer.alloc(8)));
  }

  /** A broken connection: tell the server why (best effort), then drop it. */
  private fail(reason: string, code: number = ErrorCode.noError): void {
    // A client accepts no streams from the server: the last peer-initiated stream is 0.
    if (!this.closed) this.write(goawayFrame(0, code));
    this.markClosed(reason);
    this.endSocket();
    this.socket.destroySoon();
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.wakeReadyWaiters();
    this.options.onClose?.(this, reason, this.closeDetail);
    // Streams the server accepted may still finish; the socket ends when the last one does.
    if (this.streams.size === 0) this.endSocket();
  }

  close(): Promise<void> {
    if (!this.closed) this.write(goawayFrame(0, ErrorCode.noError));
    this.markClosed('shutdown');
    // Nothing waits for an answer: streams still open are halves a server left hanging (it
    // answered before reading the whole body), so the socket ends now and goes within a second.
    const idle = this.inFlight === 0;
    if (idle && this.streams.size > 0) this.endSocket();
    const timer = setTimeout(() => this.socket.destroy(), idle ? 1000 : 5000);
    timer.unref();
    return this.socketClosed.then(() => clearTimeout(timer));
  }
}
