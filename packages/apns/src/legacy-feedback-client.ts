import { connect } from 'node:tls';

/** One feedback tuple (docs/apns-protocol.md §E): when APNs found the app gone, and the token. */
export interface LegacyFeedbackTuple {
  /** Seconds since the epoch (`time_t`, uint32). */
  time: number;
  /** Lower-case hex. */
  token: string;
}

/**
 * Streaming parser for `uint32 time | uint16 length | token` tuples: TCP delivers them in
 * arbitrary chunks, so a tuple (even its 6-byte header) may be split across `push` calls.
 */
export class LegacyFeedbackParser {
  private buffer: Buffer = Buffer.alloc(0);
  readonly tuples: LegacyFeedbackTuple[] = [];

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    while (this.buffer.length - offset >= 6) {
      const length = this.buffer.readUInt16BE(offset + 4);
      if (this.buffer.length - offset < 6 + length) break;
      this.tuples.push({
        time: this.buffer.readUInt32BE(offset),
        token: this.buffer.subarray(offset + 6, offset + 6 + length).toString('hex'),
      });
      offset += 6 + length;
    }
    this.buffer = this.buffer.subarray(offset);
  }

  /** Bytes of an unfinished tuple; non-zero at EOF means the server cut a tuple short. */
  get pendingBytes(): number {
    return this.buffer.length;
  }
}

export interface LegacyFeedbackOptions {
  host: string;
  port: number;
  /** CA of the endpoint's certificate (added to the system CAs); Apple's hosts need none. */
  caPem?: string | undefined;
  /** The app's push certificate: PEM cert + key, or a PKCS#12 bundle. */
  certPem?: string | undefined;
  keyPem?: string | undefined;
  pfx?: Buffer | undefined;
  passphrase?: string | undefined;
  /** Whole read, handshake included (default 30 s). */
  timeoutMs?: number | undefined;
}

/**
 * Connects to a legacy feedback service, reads every tuple until the server closes, and returns
 * them. The server clears its list once read, so the caller must persist the result before it
 * does anything that can fail. Rejects on TLS errors, timeouts, and a truncated last tuple.
 */
export function readLegacyFeedback(options: LegacyFeedbackOptions): Promise<LegacyFeedbackTuple[]> {
  return new Promise((resolve, reject) => {
    const parser = new LegacyFeedbackParser();
    const socket = connect({
      host: options.host,
      port: options.port,
      servername: /^[\d.]+$|:/.test(options.host) ? undefined : options.host,
      ...(options.caPem ? { ca: options.caPem } : {}),
      ...(options.pfx ? { pfx: options.pfx } : { cert: options.certPem, key: options.keyPem }),
      ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
      // TLS 1.2, as the legacy interface always spoke: under 1.3 the client finishes its
      // handshake before the server has judged the client certificate, so a refused
      // certificate (connection dropped) would look exactly like an empty feedback list.
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(parser.tuples);
    };
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(
      () =>
        finish(new Error(`legacy feedback ${options.host}:${options.port}: no EOF within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let connected = false;
    socket.once('secureConnect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.once('error', (err) => finish(err));
    // A server that refuses the certificate drops the connection inside the handshake.
    const closed = () => {
      if (!connected)
        finish(new Error(`legacy feedback ${options.host}:${options.port}: closed during handshake`));
      else if (parser.pendingBytes > 0)
        finish(new Error(`legacy feedback: connection closed inside a tuple (${parser.pendingBytes} bytes)`));
      else finish(null);
    };
    socket.once('end', closed);
    socket.once('close', closed);
  });
}
