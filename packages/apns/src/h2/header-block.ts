// Reassembly of a header block spread over HEADERS and CONTINUATION frames (RFC 9113 §6.10),
// bounded in bytes and in frames: a peer that sends a million empty CONTINUATIONs gets a
// connection error after a few dozen, not a million small allocations.
import { ConnectionError, ErrorCode, Flag, FrameType, unpad } from './frames.ts';

/** APNs answers with a few short headers; a larger block, or one cut in many frames, is an attack or a bug. */
const maxHeaderBlock = 64 * 1024;
const maxHeaderFrames = 32;

const protocolError = (message: string) => new ConnectionError(ErrorCode.protocolError, message);

/** A complete header block: its stream, its bytes, and whether its HEADERS frame ended the stream. */
export interface HeaderBlock {
  streamId: number;
  block: Buffer;
  endStream: boolean;
}

export class HeaderBlockAssembler {
  /** The stream whose block is incomplete; 0 when none is (then only HEADERS may start one). */
  streamId = 0;
  private fragments: Buffer[] = [];
  private endStream = false;
  private bytes = 0;
  private frames = 0;

  /** A HEADERS frame: the block, if END_HEADERS completes it at once. Payloads are copied. */
  headers(streamId: number, flags: number, payload: Buffer): HeaderBlock | undefined {
    this.streamId = streamId;
    this.fragments = [Buffer.from(unpad(FrameType.headers, flags, payload))];
    this.bytes = payload.length;
    this.frames = 1;
    this.endStream = (flags & Flag.endStream) !== 0;
    return flags & Flag.endHeaders ? this.complete() : undefined;
  }

  continuation(streamId: number, flags: number, payload: Buffer): HeaderBlock | undefined {
    if (this.streamId === 0 || streamId !== this.streamId) throw protocolError('unexpected CONTINUATION');
    // Bytes and frames both: empty CONTINUATIONs cost memory too.
    this.bytes += payload.length;
    if (this.bytes > maxHeaderBlock) throw protocolError('header block over 64 KB');
    if (++this.frames > maxHeaderFrames)
      throw protocolError(`header block in over ${maxHeaderFrames} frames`);
    if (payload.length > 0) this.fragments.push(Buffer.from(payload));
    return flags & Flag.endHeaders ? this.complete() : undefined;
  }

  private complete(): HeaderBlock {
    const block = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
    const done = { streamId: this.streamId, block, endStream: this.endStream };
    this.streamId = 0;
    this.fragments = [];
    return done;
  }
}
