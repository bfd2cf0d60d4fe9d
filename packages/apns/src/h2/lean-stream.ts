import {
  type ConnectionOptions,
  maxErrorBodyBytes,
  rejectionResult,
  type StreamResult,
} from '../connection.ts';
import { ConnectionError, ErrorCode } from './frames.ts';
import { checkTrailers, parseResponseHead } from './response-headers.ts';

/** One request on the wire, from HEADERS sent to the stream's end, and its response as it arrives. */
export class LeanStream {
  /** The final response's status; 0 until its HEADERS arrive. */
  status = 0;
  apnsId: string | undefined;
  retryAfter: string | undefined;
  /** A non-200 answer's body, at most maxErrorBodyBytes of it. */
  private body: Buffer[] | undefined;
  private bodyBytes = 0;
  /** The part of the payload flow control has held back. */
  unsent: Buffer | undefined;
  /** Reset by either side: never reset it (again). */
  reset = false;

  constructor(
    readonly id: number,
    readonly done: (result: StreamResult) => void,
    readonly deadline: number,
    readonly started: number,
    public sendWindow: number,
  ) {}

  /**
   * A header block for this stream: the response head, an informational (1xx) head before it,
   * or trailers after it. Anything else is a malformed response (thrown as a connection error).
   */
  onHeaders(fields: readonly (readonly [string, string])[], endStream: boolean): void {
    if (this.status !== 0) {
      if (!endStream) throw malformed('trailers without END_STREAM');
      checkTrailers(fields);
      return;
    }
    const head = parseResponseHead(fields);
    if (head.status < 200) {
      // Informational: the final response follows on the same stream (HTTP/2 has no 101).
      if (head.status === 101 || endStream) throw malformed('a 1xx that ends the stream');
      return;
    }
    this.status = head.status;
    this.apnsId = head.apnsId;
    this.retryAfter = head.retryAfter;
  }

  /** Response DATA; false once the body is longer than any APNs error body (the stream should stop). */
  onData(data: Buffer): boolean {
    if (this.status === 0) throw malformed('DATA before HEADERS');
    if (this.status === 200 || data.length === 0) return true;
    const room = maxErrorBodyBytes - this.bodyBytes;
    if (room > 0) {
      const kept = data.length > room ? data.subarray(0, room) : data;
      this.body ??= [];
      this.body.push(Buffer.from(kept));
      this.bodyBytes += kept.length;
    }
    return data.length <= room;
  }

  /** The answer, once the response has ended (or was cut). */
  result(connection: Pick<ConnectionOptions, 'signer' | 'onTokenRefresh'>): StreamResult {
    if (this.status === 200) return { kind: 'accepted', apnsId: this.apnsId };
    const body = this.body ? Buffer.concat(this.body) : Buffer.alloc(0);
    return rejectionResult(this.status, body, this.retryAfter, connection);
  }
}

function malformed(why: string): ConnectionError {
  return new ConnectionError(ErrorCode.protocolError, `malformed response: ${why}`);
}
