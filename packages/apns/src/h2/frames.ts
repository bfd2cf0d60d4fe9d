// HTTP/2 framing (RFC 9113 §4, §6): just what a client that only sends POSTs to APNs needs.

export const clientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

export const Flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const;

export const Setting = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
} as const;

export const ErrorCode = {
  noError: 0x0,
  protocolError: 0x1,
  internalError: 0x2,
  flowControlError: 0x3,
  frameSizeError: 0x6,
  refusedStream: 0x7,
  cancel: 0x8,
  compressionError: 0x9,
  enhanceYourCalm: 0xb,
} as const;

/** The largest flow-control window RFC 9113 §6.9.1 allows. */
export const maxWindow = 2 ** 31 - 1;

/**
 * A connection error (RFC 9113 §5.4.1): the connection sends GOAWAY with `code` and closes;
 * its requests settle as retryable failures (or not processed, if never written).
 */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const frameHeaderLength = 9;

/** Writes a 9-byte frame header (24-bit length, type, flags, 31-bit stream id) at `at`. */
export function writeFrameHeader(
  out: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, at + 5);
}

/** One frame: its header, then the payload. */
export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(frameHeaderLength + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  if (payload) payload.copy(out, frameHeaderLength);
  return out;
}

export function settingsFrame(settings: [id: number, value: number][]): Buffer {
  const payload = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.settings, 0, 0, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment & 0x7fffffff, 0);
  return frame(FrameType.windowUpdate, 0, streamId, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FrameType.rstStream, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  payload.writeUInt32BE(code, 4);
  return frame(FrameType.goaway, 0, 0, payload);
}

export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames. Payloads are views into the received chunk (no copy) unless
 * a frame straddles two chunks; a handler that keeps one must copy it.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(
    private readonly onFrame: FrameHandler,
    /** SETTINGS_MAX_FRAME_SIZE we allow the peer: the protocol default unless we advertise more. */
    private readonly maxFrameSize = 16_384,
  ) {}

  /**
   * Reads the frames of `chunk` (after any left from before). With `until`, stops once it says
   * so (checked every few frames) and keeps the rest: returns true when frames wait for `resume()`.
   */
  push(chunk: Buffer, until?: () => boolean): boolean {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    return this.read(buf, until);
  }

  /** Reads on from what `push` kept; true when frames are still waiting. */
  resume(until?: () => boolean): boolean {
    const buf = this.pending;
    this.pending = undefined;
    return buf ? this.read(buf, until) : false;
  }

  private read(buf: Buffer, until: (() => boolean) | undefined): boolean {
    let offset = 0;
    let frames = 0;
    while (buf.length - offset >= frameHeaderLength) {
      if (until && ++frames % 16 === 0 && until()) {
        this.pending = buf.subarray(offset);
        return true;
      }
      const length = buf.readUIntBE(offset, 3);
      if (length > this.maxFrameSize) {
        throw new ConnectionError(ErrorCode.frameSizeError, `frame of ${length} bytes exceeds the maximum`);
      }
      const end = offset + frameHeaderLength + length;
      if (end > buf.length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      const streamId = buf.readUInt32BE(offset + 5) & 0x7fffffff;
      this.onFrame(type, flags, streamId, buf.subarray(offset + frameHeaderLength, end));
      offset = end;
    }
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
    return false;
  }
}

/** A HEADERS or DATA payload without its padding (and HEADERS' priority fields). */
export function unpad(type: number, flags: number, payload: Buffer): Buffer {
  let start = 0;
  let end = payload.length;
  if (flags & Flag.padded) {
    const padLength = payload[0] ?? 0;
    start = 1;
    end -= padLength;
  }
  if (type === FrameType.headers && flags & Flag.priority) start += 5;
  if (start > end) throw new ConnectionError(ErrorCode.protocolError, 'padding exceeds the frame');
  return payload.subarray(start, end);
}
