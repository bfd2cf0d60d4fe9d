// What the lean client writes, batched per tick into one TLS write, and bounded: a peer that
// stops reading cannot make a connection queue without end.
import type { TLSSocket } from 'node:tls';
import { ConnectionError, ErrorCode } from './frames.ts';

/**
 * Answers (PING and SETTINGS ACKs) we may owe a peer that stops reading: beyond this the peer is
 * flooding us, and the connection ends instead of queueing answers without bound.
 */
const maxControlBacklog = 256 * 1024;
/** Bytes queued for a peer that does not read; above this the connection is given up. */
const maxWriteBacklog = 16 * 1024 * 1024;

export class Outbox {
  private frames: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  /** Set once TLS is up and the preface is queued: nothing is written before. */
  private open = false;

  constructor(
    private readonly socket: TLSSocket,
    /** After each write to the socket (the connection notes which streams went out). */
    private readonly onWritten: () => void,
    /** The socket's buffer passed maxWriteBacklog: the peer stopped reading. */
    private readonly onStalled: () => void,
  ) {}

  /** Queues a frame; everything queued in this tick goes out in one TLS write. */
  write(buf: Buffer): void {
    this.frames.push(buf);
    this.bytes += buf.length;
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.flush());
  }

  /** TLS is up: `first` (the preface) goes ahead of anything queued while the handshake ran. */
  start(first: Buffer[]): void {
    this.frames.unshift(...first);
    this.bytes += first.reduce((n, b) => n + b.length, 0);
    this.open = true;
    this.flush();
  }

  flush(): void {
    this.scheduled = false;
    if (!this.open || this.frames.length === 0) return;
    const out = this.frames.length === 1 ? this.frames[0]! : Buffer.concat(this.frames);
    this.frames = [];
    this.bytes = 0;
    if (!this.socket.writable) return;
    this.socket.write(out);
    this.onWritten();
    if (this.socket.writableLength > maxWriteBacklog) this.onStalled();
  }

  /** Before queueing an answer the peer asked for: a peer that asks without reading is cut off. */
  owe(): void {
    if (this.socket.writableLength + this.bytes > maxControlBacklog) {
      throw new ConnectionError(ErrorCode.enhanceYourCalm, 'control frames from a server that does not read');
    }
  }
}
