// Request encoding for the lean client, apart from the connection's state machine: a POST's
// HEADERS frame (and its DATA frame when flow control lets the whole payload go) written into
// one buffer. The encoder never indexes (RFC 7541 §6.2.2), so the server's view of our dynamic
// table stays empty and the parts of a block can be encoded once and reused.
import type { WireRequest } from '../connection.ts';
import { Flag, FrameType, frameHeaderLength, writeFrameHeader } from './frames.ts';
import { encodeIndexed, encodeInteger, encodeLiteral } from './hpack.ts';

/** The headers of one prepared notification (apns-topic, apns-push-type, …), HPACK-encoded once. */
function notificationBlock(prepared: WireRequest): Buffer {
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

const blocks = new WeakMap<WireRequest, Buffer>();

/** The header parts of one request that can fail to encode; computed before any state changes. */
export interface RequestParts {
  block: Buffer;
  auth: Buffer | undefined;
}

export class RequestEncoder {
  /** :method POST, :scheme https and :authority, HPACK-encoded once; :path follows per request. */
  private readonly pseudoHeaders: Buffer;
  private authorization: { header: string; field: Buffer } | undefined;
  private tableSizeUpdatePending = false;

  constructor(authority: string) {
    this.pseudoHeaders = Buffer.concat([
      encodeIndexed(3 /* :method POST */),
      encodeIndexed(7 /* :scheme https */),
      encodeLiteral(':authority', authority),
    ]);
  }

  /**
   * After the server changed SETTINGS_HEADER_TABLE_SIZE the next block must open with a dynamic
   * table size update (RFC 7541 §4.2); we never index, so size 0 always fits.
   */
  tableSizeChanged(): void {
    this.tableSizeUpdatePending = true;
  }

  /** Throws (RangeError) for a header HTTP/2 cannot carry: that request fails alone. */
  parts(prepared: WireRequest, authorization: string | undefined): RequestParts {
    let block = blocks.get(prepared);
    if (!block) {
      block = notificationBlock(prepared);
      blocks.set(prepared, block);
    }
    let auth: Buffer | undefined;
    if (authorization !== undefined) {
      if (this.authorization?.header !== authorization) {
        this.authorization = { header: authorization, field: authorizationField(authorization) };
      }
      auth = this.authorization.field;
    }
    return { block, auth };
  }

  /**
   * HEADERS for stream `id`, followed by the whole payload as one DATA frame with END_STREAM
   * when `body` is given (the caller checked the flow-control windows); one allocation, one copy
   * of each part.
   */
  encode(id: number, path: string, parts: RequestParts, body: Buffer | undefined): Buffer {
    const pseudo = this.pseudoHeaders;
    const tableSizeUpdate = this.tableSizeUpdatePending ? 1 : 0;
    this.tableSizeUpdatePending = false;
    // :path as a literal without indexing, name = static index 4; its length takes one byte for
    // the usual 64-character token, more for long ones (up to 200). The path is ASCII (hex
    // tokens; bundle ids are reverse-DNS), so its length in characters is its length in bytes.
    const longLength = path.length < 127 ? undefined : encodeInteger(path.length, 7, 0);
    const headerLength =
      tableSizeUpdate +
      pseudo.length +
      2 +
      (longLength ? longLength.length - 1 : 0) +
      path.length +
      parts.block.length +
      (parts.auth?.length ?? 0);
    const out = Buffer.allocUnsafe(
      frameHeaderLength * (body ? 2 : 1) + headerLength + (body ? body.length : 0),
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
    at += parts.block.copy(out, at);
    if (parts.auth) at += parts.auth.copy(out, at);
    if (body) {
      writeFrameHeader(out, at, body.length, FrameType.data, Flag.endStream, id);
      body.copy(out, at + frameHeaderLength);
    }
    return out;
  }
}
