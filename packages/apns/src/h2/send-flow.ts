// Flow control of what the lean client sends (RFC 9113 §5.2, §6.9): the connection window and
// each stream's, payloads held back until WINDOW_UPDATEs make room, and the overflow checks that
// make a broken peer a connection error.
import { ConnectionError, ErrorCode, Flag, FrameType, frame, maxWindow } from './frames.ts';
import type { LeanStream } from './lean-stream.ts';

export class SendFlow {
  connectionWindow = 65_535;
  /** The server's SETTINGS_INITIAL_WINDOW_SIZE: each new stream's window. */
  initialWindow = 65_535;
  private readonly blocked: LeanStream[] = [];

  constructor(
    private readonly write: (buf: Buffer) => void,
    private readonly isOpen: (stream: LeanStream) => boolean,
  ) {}

  /** Whether a payload of `length` fits both windows at once (the one-write fast path). */
  fits(stream: LeanStream, length: number): boolean {
    return length <= Math.min(stream.sendWindow, this.connectionWindow);
  }

  consume(stream: LeanStream, length: number): void {
    stream.sendWindow -= length;
    this.connectionWindow -= length;
  }

  /** Sends as much of the stream's unsent payload as both windows allow; the rest waits. */
  send(stream: LeanStream): void {
    const body = stream.unsent!;
    const size = Math.min(body.length, stream.sendWindow, this.connectionWindow);
    if (size < body.length && size <= 0) {
      this.blocked.push(stream);
      return;
    }
    const last = size === body.length;
    this.write(frame(FrameType.data, last ? Flag.endStream : 0, stream.id, body.subarray(0, size)));
    this.consume(stream, size);
    stream.unsent = last ? undefined : body.subarray(size);
    if (!last) this.blocked.push(stream);
  }

  /** A WINDOW_UPDATE for the connection (`stream` undefined) or an open stream. */
  update(stream: LeanStream | undefined, increment: number): void {
    if (!stream) {
      if (this.connectionWindow + increment > maxWindow) {
        throw new ConnectionError(ErrorCode.flowControlError, 'connection window over 2^31-1');
      }
      this.connectionWindow += increment;
    } else {
      // A stream error by the RFC; a server this broken gets a connection error (§5.4.1 allows it).
      if (stream.sendWindow + increment > maxWindow) {
        throw new ConnectionError(ErrorCode.flowControlError, `stream ${stream.id} window over 2^31-1`);
      }
      stream.sendWindow += increment;
    }
    this.unblock();
  }

  /** A new SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's window by the difference (§6.9.2). */
  setInitialWindow(value: number, streams: Iterable<LeanStream>): void {
    const delta = value - this.initialWindow;
    this.initialWindow = value;
    for (const stream of streams) {
      if (stream.sendWindow + delta > maxWindow) {
        throw new ConnectionError(ErrorCode.flowControlError, 'SETTINGS made a stream window over 2^31-1');
      }
      stream.sendWindow += delta;
    }
    this.unblock();
  }

  unblock(): void {
    if (this.blocked.length === 0) return;
    for (const stream of this.blocked.splice(0)) if (this.isOpen(stream) && stream.unsent) this.send(stream);
  }
}
