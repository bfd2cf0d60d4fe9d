import { isIP } from 'node:net';
import { connect, type TLSSocket, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { PreparedNotification } from '@pushfleet/core';
import {
  type ApnsStreamConnection,
  bodyOf,
  type ConnectionOptions,
  rejectionResult,
  type StreamResult,
  timedOut,
} from '../http2-connection.ts';
import {
  clientPreface,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  frame,
  frameHeaderLength,
  goawayFrame,
  rstStreamFrame,
  Setting,
  settingsFrame,
  unpad,
  windowUpdateFrame,
  writeFrameHeader,
} from './frames.ts';
import { encodeIndexed, encodeInteger, encodeLiteral, HpackDecoder, HpackError } from './hpack.ts';

/** Our receive window: large, so the server never waits on us; topped up as data arrives. */
const receiveWindow = 1 << 24;
const pingTimeoutMs = 10_000;
const maxHeaderBlock = 64 * 1024;

/** Frame-level rules of RFC 9113 §6 checked on every frame: where each type may appear, and exact sizes. */
const connectionFrames = new Set<number>([FrameType.settings, FrameType.ping, FrameType.goaway]);
const streamFrames = new Set<number>([
  FrameType.headers,
  FrameType.continuation,
  FrameType.data,
  FrameType.rstStream,
]);
const exactLength = new Map<number, number>([
  [FrameType.rstStream, 4],
  [FrameType.ping, 8],
  [FrameType.windowUpdate, 4],
]);

/** One request on the wire, from HEADERS sent to the stream's end. */
class LeanStream {
  status = 0;
  apnsId: string | undefined;
  retryAfter: string | undefined;
  body: Buffer[] | undefined;
  /** The part of the payload flow control has held back. */
  unsent: Buffer | undefined;

  constructor(
    readonly id: number,
    readonly done: (result: StreamResult) => void,
    readonly deadline: number,
    readonly started: number,
    public sendWindow: number,
  ) {}
}

/** The headers of one prepared notification (apns-topic, apns-push-type, …), HPACK-encoded once. */
function notificationBlock(prepared: PreparedNotification): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(prepared.headers)) {
    if (value !== undefined) parts.push(encodeLiteral(name, String(value)));
  }
  return Buffer.concat(parts);
}

/** HPACK "never indexed" with the static table's `authorization` name (RFC 7541 §6.2.3): a secret. */
function authorizationField(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return Buffer.concat([encodeInteger(23, 4, 0x10), encodeInteger(bytes.length, 7, 0), bytes]);
}

const blocks = new WeakMap<PreparedNotification, Buffer>();

/**
 * One APNs connection speaking HTTP/2 itself over a TLS socket: no `node:http2` session, so a
 * request costs one HEADERS and one DATA frame written into a shared buffer, and a response a
 * frame parse and an HPACK decode. Same contract as the `node:http2` ApnsConnection (the
 * transport uses either): never more streams than min(own cap, server's SETTINGS), refused and
 * post-GOAWAY streams reported as not processed, overdue requests cancelled by one sweeper.
 */
export class LeanConnection implements ApnsStreamConnection {
  inFlight = 0;
  reserved = 0;
  closed = false;
  private readonly socket: TLSSocket;
  private readonly streams = new Map<number, LeanStream>();
  private readonly decoder = new HpackDecoder();
  private readonly reader: FrameReader;
  /** :method POST, :scheme https and :authority, HPACK-encoded once; :path follows per request. */
  private readonly pseudoHeaders: Buffer;
  private authorization: { header: string; field: Buffer } | undefined;
  private outbox: Buffer[] = [];
  private flushScheduled = false;
  /** Set once TLS is up and the preface is queued: nothing is written before. */
  private secure = false;
  private nextStreamId = 1;
  /** The last stream id handed to the socket: later ones never left this process. */
  private highestWrittenId = 0;
  private tableSizeUpdatePending = false;
  /** Set after a fatal protocol error: nothing more that arrives is parsed. */
  private dead = false;
  private serverLimit = 1;
  private settingsReceived = false;
  private peerInitialWindow = 65_535;
  private connectionSendWindow = 65_535;
  private readonly blocked: LeanStream[] = [];
  private received = 0;
  private goawayLastStreamId = Number.POSITIVE_INFINITY;
  private pingSentAt = 0;
  private readonly openedAt = Date.now();
  private lastActivity = this.openedAt;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  private readonly socketClosed: Promise<void>;
  private readonly readyWaiters: (() => void)[] = [];
  /** A header block spread over CONTINUATION frames: its stream, fragments, and END_STREAM. */
  private headerStream = 0;
  private headerFragments: Buffer[] = [];
  private headerEndsStream = false;
  private headerBytes = 0;

  constructor(private readonly options: ConnectionOptions) {
    const url = new URL(options.origin);
    const port = Number(url.port || 443);
    const authority = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    this.pseudoHeaders = Buffer.concat([
      encodeIndexed(3 /* :method POST */),
      encodeIndexed(7 /* :scheme https */),
      encodeLiteral(':authority', authority),
    ]);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    this.reader = new FrameReader((type, flags, id, payload) => this.onFrame(type, flags, id, payload));
    this.socket = connect({
      ...(options.tls as TlsConnectionOptions),
      host,
      port,
      ...(isIP(host) === 0 && { servername: host }),
      ALPNProtocols: ['h2'],
    });
    this.socket.setNoDelay(true);
    this.socket.once('secureConnect', () => {
      if (this.socket.alpnProtocol !== 'h2') return this.fail('server did not negotiate h2');
      // The preface goes first; requests made while the handshake ran follow it.
      this.outbox.unshift(
        clientPreface,
        settingsFrame([
          [Setting.enablePush, 0],
          [Setting.initialWindowSize, receiveWindow],
        ]),
        windowUpdateFrame(0, receiveWindow - 65_535),
      );
      this.secure = true;
      this.flush();
    });
    this.socket.on('data', (chunk: Buffer) => {
      if (this.dead) return;
      this.lastActivity = Date.now();
      try {
        this.reader.push(chunk);
      } catch (err) {
        const compression = err instanceof HpackError;
        this.dead = true;
        this.fail(
          `${compression ? 'HPACK' : 'protocol'} error: ${(err as Error).message}`,
          compression ? ErrorCode.compressionError : ErrorCode.protocolError,
        );
      }
    });
    this.socket.on('error', (err) => this.markClosed(`error: ${err.message}`));
    this.socketClosed = new Promise((resolve) =>
      this.socket.once('close', () => {
        clearInterval(this.sweepTimer);
        this.markClosed('closed');
        // Never written, or past the GOAWAY: APNs never saw it, so it may be re-sent at once.
        // Written and unanswered: it may have been delivered, so it is a retryable failure.
        for (const stream of [...this.streams.values()]) {
          this.finish(
            stream,
            stream.id > this.highestWrittenId || stream.id > this.goawayLastStreamId
              ? { kind: 'not-processed', error: 'connection closed before the request was sent' }
              : { kind: 'failed', error: 'connection closed before the response' },
          );
        }
        resolve();
      }),
    );
    this.pingTimer = setInterval(() => this.pingIfIdle(), options.pingIntervalMs);
    this.pingTimer.unref();
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, options.requestTimeoutMs));
    this.sweepTimer.unref();
  }

  ready(): Promise<void> {
    this.options.signer?.authorization();
    if (this.settingsReceived || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private wakeReadyWaiters(): void {
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  capacity(): number {
    if (this.closed) return 0;
    return Math.min(this.options.maxInFlight, this.serverLimit) - this.inFlight - this.reserved;
  }

  send(token: string, prepared: PreparedNotification, done: (result: StreamResult) => void): void {
    if (this.reserved > 0) this.reserved--;
    const id = this.nextStreamId;
    if (this.closed) {
      done({ kind: 'not-processed', error: 'connection closed' });
      this.options.onSlotFree?.(this);
      return;
    }
    // Encoded before any state changes: a header APNs cannot carry fails this request only.
    let block: Buffer;
    let auth: Buffer | undefined;
    try {
      block = blocks.get(prepared) ?? notificationBlock(prepared);
      blocks.set(prepared, block);
      auth = this.authorizationField();
    } catch (err) {
      done({ kind: 'failed', error: `cannot encode the request: ${(err as Error).message}` });
      this.options.onSlotFree?.(this);
      return;
    }
    this.inFlight++;
    this.nextStreamId += 2;
    const now = Date.now();
    const started = this.options.onRequestDone ? performance.now() : 0;
    const stream = new LeanStream(
      id,
      done,
      now + this.options.requestTimeoutMs,
      started,
      this.peerInitialWindow,
    );
    this.streams.set(id, stream);

    const pseudo = this.pseudoHeaders;
    // After the server changed SETTINGS_HEADER_TABLE_SIZE, the next block must open with a
    // dynamic table size update (RFC 7541 §4.2); we never index, so size 0 always fits.
    const tableSizeUpdate = this.tableSizeUpdatePending ? 1 : 0;
    this.tableSizeUpdatePending = false;
    const body = bodyOf(prepared);
    const path = `/3/device/${token}`;
    // :path as a literal without indexing, name = static index 4; its length takes one byte for
    // the usual 64-character token, more for long ones (up to 200).
    const longLength = path.length < 127 ? undefined : encodeInteger(path.length, 7, 0);
    const headerLength =
      tableSizeUpdate +
      pseudo.length +
      2 +
      (longLength ? longLength.length - 1 : 0) +
      path.length +
      block.length +
      (auth?.length ?? 0);
    const whole = body.length <= Math.min(stream.sendWindow, this.connectionSendWindow);
    // The common case, HEADERS and the whole DATA frame, is one allocation and one copy of each part.
    const out = Buffer.allocUnsafe(
      frameHeaderLength * (whole ? 2 : 1) + headerLength + (whole ? body.length : 0),
    );
    writeFrameHeader(out, 0, headerLength, FrameType.headers, Flag.endHeaders, id);
    let at = frameHeaderLength;
    if (tableSizeUpdate) out[at++] = 0x20;
    // Pseudo-headers first (RFC 9113 §8.3), then the notification's headers.
    at += pseudo.copy(out, at);
    out[at++] = 0x04;
    if (longLength) at += longLength.copy(out, at);
    else out[at++] = path.length;
    at += out.write(path, at, 'latin1');
    at += block.copy(out, at);
    if (auth) at += auth.copy(out, at);
    if (whole) {
      writeFrameHeader(out, at, body.length, FrameType.data, Flag.endStream, id);
      body.copy(out, at + frameHeaderLength);
      stream.sendWindow -= body.length;
      this.connectionSendWindow -= body.length;
    }
    this.write(out);
    if (!whole) {
      stream.unsent = body;
      this.sendData(stream);
    }
    // Stream ids are 31 bits: a connection that used them all drains, and the pool opens another.
    if (this.nextStreamId > 0x7fffffff) this.markClosed('stream ids exhausted');
  }

  private authorizationField(): Buffer | undefined {
    const signer = this.options.signer;
    if (!signer) return undefined;
    const header = signer.authorization();
    if (this.authorization?.header !== header)
      this.authorization = { header, field: authorizationField(header) };
    return this.authorization.field;
  }

  /** Sends as much of the stream's payload as both flow-control windows allow; the rest waits. */
  private sendData(stream: LeanStream): void {
    const body = stream.unsent!;
    const size = Math.min(body.length, stream.sendWindow, this.connectionSendWindow);
    if (size < body.length && size <= 0) {
      this.blocked.push(stream);
      return;
    }
    const last = size === body.length;
    this.write(frame(FrameType.data, last ? Flag.endStream : 0, stream.id, body.subarray(0, size)));
    stream.sendWindow -= size;
    this.connectionSendWindow -= size;
    stream.unsent = last ? undefined : body.subarray(size);
    if (!last) this.blocked.push(stream);
  }

  private unblock(): void {
    const waiting = this.blocked.splice(0);
    for (const stream of waiting) if (this.streams.has(stream.id) && stream.unsent) this.sendData(stream);
  }

  private write(buf: Buffer): void {
    this.outbox.push(buf);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Every frame produced in this tick goes out in one TLS write.
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (!this.secure || this.outbox.length === 0) return;
    const out = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
    this.outbox = [];
    if (!this.socket.writable) return;
    this.socket.write(out);
    this.highestWrittenId = this.nextStreamId - 2;
  }

  private endSocket(): void {
    this.flush();
    if (this.socket.writable) this.socket.end();
    // A peer that never closes its side does not keep the socket (and this object) alive.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  /** Frame-level checks of RFC 9113 §6 that a malformed or hostile peer could otherwise slip past. */
  private checkFrame(type: number, id: number, length: number): void {
    if (connectionFrames.has(type) && id !== 0) throw new Error(`frame type ${type} on stream ${id}`);
    if (streamFrames.has(type) && id === 0) throw new Error(`frame type ${type} on stream 0`);
    const exact = exactLength.get(type);
    if (exact !== undefined && length !== exact) throw new Error(`frame type ${type} of ${length} bytes`);
    if (type === FrameType.settings && length % 6 !== 0) throw new Error(`SETTINGS of ${length} bytes`);
    if (type === FrameType.goaway && length < 8) throw new Error(`GOAWAY of ${length} bytes`);
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    this.checkFrame(type, id, payload.length);
    if (this.headerStream !== 0 && type !== FrameType.continuation) {
      throw new Error('expected CONTINUATION');
    }
    switch (type) {
      case FrameType.headers:
        this.headerStream = id;
        this.headerFragments = [Buffer.from(unpad(type, flags, payload))];
        this.headerBytes = payload.length;
        if (flags & Flag.endHeaders) this.onHeaderBlock(flags & Flag.endStream);
        else this.headerEndsStream = (flags & Flag.endStream) !== 0;
        return;
      case FrameType.continuation:
        if (id !== this.headerStream) throw new Error('CONTINUATION on the wrong stream');
        this.headerFragments.push(Buffer.from(payload));
        this.headerBytes += payload.length;
        // APNs answers with a few short headers; a block this large is an attack or a bug.
        if (this.headerBytes > maxHeaderBlock) throw new Error('header block over 64 KB');
        if (flags & Flag.endHeaders) this.onHeaderBlock(this.headerEndsStream ? Flag.endStream : 0);
        return;
      case FrameType.data:
        this.onData(flags, id, payload);
        return;
      case FrameType.rstStream:
        this.onReset(id, payload.readUInt32BE(0));
        return;
      case FrameType.settings:
        if (!(flags & Flag.ack)) this.onSettings(payload);
        return;
      case FrameType.ping:
        if (flags & Flag.ack) this.pingSentAt = 0;
        else this.write(frame(FrameType.ping, Flag.ack, 0, Buffer.from(payload)));
        return;
      case FrameType.goaway:
        this.onGoaway(payload);
        return;
      case FrameType.windowUpdate: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        if (increment === 0) throw new Error('WINDOW_UPDATE of 0');
        if (id === 0) this.connectionSendWindow += increment;
        else {
          const stream = this.streams.get(id);
          if (stream) stream.sendWindow += increment;
        }
        if (this.blocked.length > 0) this.unblock();
        return;
      }
      case FrameType.pushPromise:
        throw new Error('PUSH_PROMISE although push is disabled');
      default:
      // PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
    }
  }

  private onHeaderBlock(endStream: number): void {
    const id = this.headerStream;
    this.headerStream = 0;
    const block =
      this.headerFragments.length === 1 ? this.headerFragments[0]! : Buffer.concat(this.headerFragments);
    this.headerFragments = [];
    // Decoded even for unknown streams: the HPACK table must see every block.
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(id);
    if (!stream) return;
    for (const [name, value] of fields) {
      if (name === ':status') stream.status = Number(value);
      else if (name === 'apns-id') stream.apnsId = value;
      else if (name === 'retry-after') stream.retryAfter = value;
    }
    if (endStream) this.complete(stream);
  }

  private onData(flags: number, id: number, payload: Buffer): void {
    this.received += payload.length;
    if (this.received >= receiveWindow / 2) {
      this.write(windowUpdateFrame(0, this.received));
      this.received = 0;
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    if (stream.status !== 200) {
      const data = unpad(FrameType.data, flags, payload);
      if (data.length > 0) {
        stream.body ??= [];
        stream.body.push(Buffer.from(data));
      }
    }
    if (flags & Flag.endStream) this.complete(stream);
  }

  private complete(stream: LeanStream): void {
    if (stream.status === 200) {
      this.finish(stream, { kind: 'accepted', apnsId: stream.apnsId });
      return;
    }
    if (stream.status === 0) {
      this.finish(stream, { kind: 'failed', error: 'response without :status' });
      return;
    }
    const body = stream.body ? Buffer.concat(stream.body) : Buffer.alloc(0);
    this.finish(stream, rejectionResult(stream.status, body, stream.retryAfter, this.options));
  }

  private onReset(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (!stream) return;
    if (stream.status === 200) {
      // APNs said 200 before resetting the rest of the stream: the notification was accepted.
      this.finish(stream, { kind: 'accepted', apnsId: stream.apnsId });
      return;
    }
    this.finish(
      stream,
      code === ErrorCode.refusedStream
        ? { kind: 'not-processed', error: 'stream refused (rst 7)' }
        : { kind: 'failed', error: `stream reset without a response (rst ${code})` },
    );
  }

  private onSettings(payload: Buffer): void {
    let limitGiven = false;
    for (let i = 0; i + 6 <= payload.length; i += 6) {
      const id = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (id === Setting.maxConcurrentStreams) {
        this.serverLimit = value;
        limitGiven = true;
      } else if (id === Setting.headerTableSize) this.tableSizeUpdatePending = true;
      else if (id === Setting.initialWindowSize) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      }
    }
    this.write(frame(FrameType.settings, Flag.ack, 0));
    if (!this.settingsReceived) {
      this.settingsReceived = true;
      this.wakeReadyWaiters();
      // Without SETTINGS_MAX_CONCURRENT_STREAMS the limit is unbounded (RFC 9113 §6.5.2).
      if (!limitGiven) this.serverLimit = 1000;
    }
    if (this.blocked.length > 0) this.unblock();
    if (this.capacity() > 0) this.options.onSlotFree?.(this);
  }

  private onGoaway(payload: Buffer): void {
    this.goawayLastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    const debug = payload.subarray(8).toString('utf8');
    // Closed first: the re-sends below must go to another connection, never this one.
    this.markClosed(`goaway ${code}${debug ? `: ${debug}` : ''}`);
    // Streams past the last one APNs processed were never seen: re-sendable elsewhere, at once.
    for (const stream of [...this.streams.values()]) {
      if (stream.id > this.goawayLastStreamId) {
        this.finish(stream, { kind: 'not-processed', error: 'stream past the GOAWAY' });
      }
    }
  }

  private finish(stream: LeanStream, result: StreamResult): void {
    if (!this.streams.delete(stream.id)) return;
    // Answered (or given up) before its body went out: close our half, or the server keeps the
    // stream open and counts it against its limit.
    if (stream.unsent && !this.closed) this.write(rstStreamFrame(stream.id, ErrorCode.cancel));
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
      this.write(rstStreamFrame(stream.id, ErrorCode.cancel));
      stream.unsent = undefined; // reset just now: finish() must not reset it again
      this.finish(stream, timedOut);
    }
    if (this.pingSentAt !== 0 && now - this.pingSentAt > pingTimeoutMs) this.fail('ping not answered');
    // A server that accepts the connection but never completes TLS and SETTINGS is as good as down.
    if (!this.settingsReceived && now - this.openedAt > this.options.requestTimeoutMs) {
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
    this.write(goawayFrame(0, code));
    this.markClosed(reason);
    this.endSocket();
    this.socket.destroySoon();
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    this.wakeReadyWaiters();
    this.options.onClose?.(this, reason);
    // Streams the server accepted may still finish; the socket ends when the last one does.
    if (this.streams.size === 0) this.endSocket();
  }

  close(): Promise<void> {
    if (!this.closed) this.write(goawayFrame(0, ErrorCode.noError));
    this.markClosed('shutdown');
    const timer = setTimeout(() => this.socket.destroy(), 5000);
    timer.unref();
    return this.socketClosed.then(() => clearTimeout(timer));
  }
}
