// A scripted HTTP/2 server over TLS that writes raw frames, for the hostile-peer tests: it
// answers however a test tells it to, including in ways RFC 9113 forbids. Deliberately
// independent of the client's own framing and HPACK code, so a bug there cannot hide itself.
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { createCertificateAuthority, createServerCertificate } from '../../apps/apns-sim/src/tls-material.ts';

export const ca = createCertificateAuthority();
const serverCert = createServerCertificate(ca);

export const T = {
  data: 0,
  headers: 1,
  rst: 3,
  settings: 4,
  push: 5,
  ping: 6,
  goaway: 7,
  window: 8,
  cont: 9,
};
export const F = { endStream: 1, ack: 1, endHeaders: 4, padded: 8 };

export function frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}

export function settings(values: [number, number][] = []): Buffer {
  const payload = Buffer.alloc(values.length * 6);
  values.forEach(([id, v], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(T.settings, 0, 0, payload);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    b.writeUInt32BE(v >>> 0, i * 4);
  });
  return b;
}

/** HPACK literal fields without indexing, new names, no Huffman (RFC 7541 §6.2.2). Short strings only. */
export function hpack(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (name.length > 126 || value.length > 126) throw new Error('hpack(): short strings only');
    parts.push(Buffer.from([0x00, name.length]), Buffer.from(name, 'latin1'));
    parts.push(Buffer.from([value.length]), Buffer.from(value, 'latin1'));
  }
  return Buffer.concat(parts);
}

export function headers(id: number, fields: [string, string][], endStream = true): Buffer {
  return frame(T.headers, F.endHeaders | (endStream ? F.endStream : 0), id, hpack(fields));
}

/** One client connection as the peer sees it: frames in, raw bytes out. */
export class PeerConnection extends EventEmitter {
  /** Streams whose request ended (END_STREAM seen), in order. */
  readonly requests: number[] = [];
  readonly received: { type: number; flags: number; id: number; payload: Buffer }[] = [];
  private buffered = Buffer.alloc(0);
  private prefaceSeen = false;

  constructor(readonly socket: TLSSocket) {
    super();
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.parse(chunk));
  }

  write(...frames: Buffer[]): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(Buffer.concat(frames));
  }

  private parse(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.prefaceSeen) {
      if (this.buffered.length < 24) return;
      this.buffered = this.buffered.subarray(24);
      this.prefaceSeen = true;
    }
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) return;
      const f = {
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        id: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buffered.subarray(9, 9 + length)),
      };
      this.buffered = this.buffered.subarray(9 + length);
      this.received.push(f);
      this.emit('frame', f);
      if ((f.type === T.headers || f.type === T.data) && f.flags & F.endStream) {
        this.requests.push(f.id);
        this.emit('request', f.id);
      }
    }
  }

  /** Resolves with the id of the next request to end (or one that already has and was not taken). */
  nextRequest(): Promise<number> {
    return new Promise((resolve) => this.once('request', resolve));
  }

  sent(type: number): { type: number; flags: number; id: number; payload: Buffer }[] {
    return this.received.filter((f) => f.type === type);
  }
}

export interface HostilePeer {
  port: number;
  caPem: string;
  connections: PeerConnection[];
  close(): Promise<void>;
}

/**
 * Starts a TLS server on 127.0.0.1. `onConnection` scripts each connection; by default nothing is
 * written (not even SETTINGS). `alpn: false` negotiates no ALPN protocol at all.
 */
export async function startHostilePeer(
  onConnection: (conn: PeerConnection) => void,
  options: { alpn?: boolean; requestCert?: boolean; clientCa?: string } = {},
): Promise<HostilePeer> {
  const connections: PeerConnection[] = [];
  const server: Server = createServer(
    {
      key: serverCert.keyPem,
      cert: serverCert.certPem,
      ...(options.alpn !== false && { ALPNProtocols: ['h2'] }),
      ...(options.requestCert && {
        requestCert: true,
        rejectUnauthorized: true,
        ca: options.clientCa ?? ca.certPem,
      }),
    },
    (socket) => {
      const conn = new PeerConnection(socket);
      connections.push(conn);
      onConnection(conn);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    connections,
    close: async () => {
      for (const c of connections) c.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A well-behaved start: SETTINGS (with these values), and the ACK of the client's. */
export function greet(conn: PeerConnection, values: [number, number][] = [[3, 100]]): void {
  conn.write(settings(values));
  conn.on('frame', (f: { type: number; flags: number }) => {
    if (f.type === T.settings && !(f.flags & F.ack)) conn.write(frame(T.settings, F.ack, 0));
  });
}

/** Answers every request with 200 (the default script of a test's good connections). */
export function answerAll(conn: PeerConnection, status = '200'): void {
  conn.on('request', (id: number) => conn.write(headers(id, [[':status', status]])));
}
