// Frame-level rules of RFC 9113 §6 that a malformed or hostile peer could otherwise slip past;
// each broken rule is a connection error.
import { ConnectionError, ErrorCode, FrameType, maxWindow, Setting } from './frames.ts';

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

const protocolError = (message: string) => new ConnectionError(ErrorCode.protocolError, message);

/** Where each frame type may appear, and its exact size where it has one. */
export function checkFrame(type: number, id: number, length: number): void {
  if (connectionFrames.has(type) && id !== 0) throw protocolError(`frame type ${type} on stream ${id}`);
  if (streamFrames.has(type) && id === 0) throw protocolError(`frame type ${type} on stream 0`);
  const exact = exactLength.get(type);
  if (exact !== undefined && length !== exact) {
    throw new ConnectionError(ErrorCode.frameSizeError, `frame type ${type} of ${length} bytes`);
  }
  if (type === FrameType.settings && length % 6 !== 0) {
    throw new ConnectionError(ErrorCode.frameSizeError, `SETTINGS of ${length} bytes`);
  }
  if (type === FrameType.goaway && length < 8) throw protocolError(`GOAWAY of ${length} bytes`);
}

/** The settings a client acts on, from one SETTINGS frame. */
export interface ServerSettings {
  maxConcurrentStreams?: number;
  initialWindowSize?: number;
  headerTableSizeChanged: boolean;
}

/** Parses and checks a SETTINGS payload against RFC 9113 §6.5.2. */
export function parseSettings(payload: Buffer): ServerSettings {
  const settings: ServerSettings = { headerTableSizeChanged: false };
  for (let i = 0; i + 6 <= payload.length; i += 6) {
    const id = payload.readUInt16BE(i);
    const value = payload.readUInt32BE(i + 2);
    switch (id) {
      case Setting.maxConcurrentStreams:
        settings.maxConcurrentStreams = value;
        break;
      case Setting.headerTableSize:
        settings.headerTableSizeChanged = true;
        break;
      case Setting.initialWindowSize:
        if (value > maxWindow) {
          throw new ConnectionError(ErrorCode.flowControlError, `SETTINGS_INITIAL_WINDOW_SIZE ${value}`);
        }
        settings.initialWindowSize = value;
        break;
      case Setting.maxFrameSize:
        // We never send frames above 16 KB, but an out-of-range value is still a broken peer.
        if (value < 16_384 || value > 2 ** 24 - 1) throw protocolError(`SETTINGS_MAX_FRAME_SIZE ${value}`);
        break;
      case Setting.enablePush:
        // A server must not send 1 (§6.5.2); 0 is allowed and means nothing to a client.
        if (value !== 0) throw protocolError(`SETTINGS_ENABLE_PUSH ${value} from a server`);
        break;
      default:
      // Unknown settings are ignored (§6.5.2).
    }
  }
  return settings;
}
