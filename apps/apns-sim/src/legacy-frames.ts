/**
 * Parser for the legacy binary gateway (docs/apns-protocol.md §D.1–§D.4): command 0 (simple),
 * 1 (enhanced) and 2 (frame). Pure, incremental: give it the buffered bytes, get one step.
 */

export interface LegacyNotification {
  command: 0 | 1 | 2;
  /** 4 opaque bytes echoed in error responses; zeros for command 0. */
  identifier: Buffer;
  /** UNIX seconds; 0 = do not store. */
  expiry: number;
  priority: number;
  token: Buffer;
  payload: Buffer;
  /** Bytes this notification took in the stream. */
  size: number;
}

/** Error-response status codes (§D.4). */
export const LegacyStatus = {
  ProcessingError: 1,
  MissingDeviceToken: 2,
  MissingTopic: 3,
  MissingPayload: 4,
  InvalidTokenSize: 5,
  InvalidTopicSize: 6,
  InvalidPayloadSize: 7,
  InvalidToken: 8,
  Shutdown: 10,
  ProtocolError: 128,
  Unknown: 255,
} as const;

export type ParseStep =
  | { kind: 'need-more' }
  | { kind: 'notification'; notification: LegacyNotification }
  | { kind: 'error'; command: number; status: number; identifier: Buffer };

const ZERO_ID = Buffer.alloc(4);
/** No legal frame comes close; a bigger length means the stream is garbage. */
const MAX_FRAME = 64 * 1024;

export function parseNextFrame(buf: Buffer): ParseStep {
  if (buf.length < 1) return { kind: 'need-more' };
  const command = buf[0]!;
  if (command === 0) return parseSimple(buf);
  if (command === 1) return parseEnhanced(buf);
  if (command === 2) return parseFrame(buf);
  return { kind: 'error', command, status: LegacyStatus.ProtocolError, identifier: ZERO_ID };
}

function parseSimple(buf: Buffer): ParseStep {
  if (buf.length < 3) return { kind: 'need-more' };
  const tokenLength = buf.readUInt16BE(1);
  if (buf.length < 3 + tokenLength + 2) return { kind: 'need-more' };
  const payloadLength = buf.readUInt16BE(3 + tokenLength);
  const size = 5 + tokenLength + payloadLength;
  if (buf.length < size) return { kind: 'need-more' };
  return {
    kind: 'notification',
    notification: {
      command: 0,
      identifier: ZERO_ID,
      expiry: 0,
      priority: 10,
      token: buf.subarray(3, 3 + tokenLength),
      payload: buf.subarray(5 + tokenLength, size),
      size,
    },
  };
}

function parseEnhanced(buf: Buffer): ParseStep {
  if (buf.length < 11) return { kind: 'need-more' };
  const tokenLength = buf.readUInt16BE(9);
  if (buf.length < 11 + tokenLength + 2) return { kind: 'need-more' };
  const payloadLength = buf.readUInt16BE(11 + tokenLength);
  const size = 13 + tokenLength + payloadLength;
  if (buf.length < size) return { kind: 'need-more' };
  return {
    kind: 'notification',
    notification: {
      command: 1,
      identifier: Buffer.from(buf.subarray(1, 5)),
      expiry: buf.readUInt32BE(5),
      priority: 10,
      token: buf.subarray(11, 11 + tokenLength),
      payload: buf.subarray(13 + tokenLength, size),
      size,
    },
  };
}

function parseFrame(buf: Buffer): ParseStep {
  if (buf.length < 5) return { kind: 'need-more' };
  const frameLength = buf.readUInt32BE(1);
  if (frameLength > MAX_FRAME)
    return { kind: 'error', command: 2, status: LegacyStatus.ProtocolError, identifier: ZERO_ID };
  const size = 5 + frameLength;
  if (buf.length < size) return { kind: 'need-more' };
  let identifier = ZERO_ID;
  let token: Buffer | undefined;
  let payload: Buffer | undefined;
  let expiry = 0;
  let priority = 10;
  let offset = 5;
  let malformed = false;
  while (offset < size) {
    if (offset + 3 > size) {
      malformed = true;
      break;
    }
    const itemId = buf[offset]!;
    const length = buf.readUInt16BE(offset + 1);
    const start = offset + 3;
    const end = start + length;
    if (end > size) {
      malformed = true;
      break;
    }
    const data = buf.subarray(start, end);
    if (itemId === 1) token = data;
    else if (itemId === 2) payload = data;
    else if (itemId === 3 && length === 4) identifier = Buffer.from(data);
    else if (itemId === 4 && length === 4) expiry = data.readUInt32BE(0);
    else if (itemId === 5 && length === 1) priority = data[0]!;
    else malformed = true;
    offset = end;
  }
  const error = (status: number): ParseStep => ({ kind: 'error', command: 2, status, identifier });
  if (malformed) return error(LegacyStatus.ProtocolError);
  if (priority !== 10 && priority !== 5) return error(LegacyStatus.ProtocolError);
  if (!token) return error(LegacyStatus.MissingDeviceToken);
  if (!payload) return error(LegacyStatus.MissingPayload);
  return {
    kind: 'notification',
    notification: { command: 2, identifier, expiry, priority, token, payload, size },
  };
}

/** The 6-byte error-response packet: command 8, status, identifier. */
export function errorResponse(status: number, identifier: Buffer): Buffer {
  const out = Buffer.alloc(6);
  out[0] = 8;
  out[1] = status;
  identifier.copy(out, 2, 0, 4);
  return out;
}

/** One feedback tuple (§E): uint32 time (s), uint16 token length, token bytes. */
export function feedbackTuple(timestampSeconds: number, token: Buffer): Buffer {
  const out = Buffer.alloc(6 + token.length);
  out.writeUInt32BE(timestampSeconds >>> 0, 0);
  out.writeUInt16BE(token.length, 4);
  token.copy(out, 6);
  return out;
}
