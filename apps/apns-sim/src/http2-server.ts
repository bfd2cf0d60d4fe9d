import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { handleBroadcastStream } from './broadcast-handler.ts';
import { handleChannelStream } from './channel-handler.ts';
import { applyStreamLimit, type Connection, sendGoaway } from './connection.ts';
import { createFastHandler } from './fast-handler.ts';
import type { ServerPort } from './faults.ts';
import { handleValidatingStream } from './provider-handler.ts';
import type { SimContext } from './sim-context.ts';
import { readClientCertificate } from './tls-material.ts';
import { newTokenConnectionState } from './token-auth.ts';
import { isBroadcastPath } from './validate-broadcast.ts';
import type { ConnectionAuth } from './validate-request.ts';

export interface ProviderServerOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  /** CAs whose client certificates are trusted for certificate auth. */
  clientCaPems: string[];
  /**
   * 'provider' (default): device pushes and broadcasts, fast or validating per the mode.
   * 'channels': the channel-management API, always validating (it is stateful and low-volume).
   */
  role?: ServerPort;
}

export interface ProviderServer {
  port: number;
  connections: Set<Connection>;
  /** GOAWAY Shutdown to every connection, then stop. */
  close(graceMs?: number): Promise<void>;
}

const noop = (): void => {};

function connectionAuth(session: ServerHttp2Session): ConnectionAuth {
  const socket = session.socket as unknown as TLSSocket;
  const peer = socket.getPeerCertificate?.(true);
  if (!peer || !('raw' in peer) || !peer.raw) return { kind: 'token', state: newTokenConnectionState() };
  try {
    const info = readClientCertificate(peer.raw);
    // `authorized` covers both the issuer and the validity period.
    return {
      kind: 'cert',
      trusted: socket.authorized === true,
      topics: info.topics,
      environment: info.environment,
    };
  } catch {
    return { kind: 'cert', trusted: false, topics: [], environment: 'both' };
  }
}

/**
 * The HTTP/2 provider API, or with role 'channels' the channel-management API (same TLS,
 * SETTINGS, auth and connection behaviour on its own port). A plain TCP listener accepts connections and hands them to the TLS
 * server, which lets the simulator delay handshakes (slow TLS fault) and reset the raw socket.
 */
export async function startProviderServer(
  ctx: SimContext,
  options: ProviderServerOptions,
): Promise<ProviderServer> {
  const { settings } = ctx;
  const role: ServerPort = options.role ?? 'provider';
  const validating = role === 'channels' || settings.mode === 'validating';
  const initialLimit =
    validating && settings.tokenInitialStreams > 0
      ? Math.min(settings.tokenInitialStreams, settings.maxConcurrentStreams)
      : settings.maxConcurrentStreams;
  const tlsServer: Http2SecureServer = createSecureServer({
    cert: options.certPem,
    key: options.keyPem,
    ca: options.clientCaPems,
    // Request, not require: token-auth clients share the port with certificate clients.
    requestCert: true,
    rejectUnauthorized: false,
    allowHTTP1: false,
    ALPNProtocols: ['h2'],
    minVersion: 'TLSv1.2',
    // SETTINGS as observed from APNs (docs/apns-protocol.md §C.2).
    settings: {
      headerTableSize: 4096,
      maxConcurrentStreams: initialLimit,
      initialWindowSize: 65535,
      maxFrameSize: 16384,
      maxHeaderListSize: 8000,
    },
    maxSessionMemory: 64,
  });

  const connections = new Set<Connection>();
  const rawSockets = new Map<string, Socket>();
  const sessionConn = new WeakMap<object, Connection>();
  let nextId = 1;

  tlsServer.on('session', (session: ServerHttp2Session) => {
    session.on('error', noop);
    if (role === 'provider') {
      ctx.stats.connections++;
      ctx.stats.openConnections++;
    } else {
      ctx.stats.channelConnections++;
      ctx.stats.openChannelConnections++;
    }
    const socket = session.socket;
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const auth = validating
      ? connectionAuth(session)
      : ({ kind: 'token', state: newTokenConnectionState() } as const);
    const conn: Connection = {
      id: nextId++,
      port: role,
      session,
      rawSocket: rawSockets.get(key),
      auth,
      streams: new Set(),
      goawayLastStreamId: undefined,
      highestStreamId: 0,
      authenticatedOnce: false,
      dropped: false,
      advertisedLimit: initialLimit,
    };
    connections.add(conn);
    sessionConn.set(session, conn);
    session.on('close', () => {
      connections.delete(conn);
      if (role === 'provider') ctx.stats.openConnections--;
      else ctx.stats.openChannelConnections--;
    });
    if (validating) {
      // Certificate connections are authenticated by the handshake: lift the token-connection limit now.
      applyStreamLimit(conn, ctx);
      if (settings.idleTimeoutMs > 0)
        session.setTimeout(settings.idleTimeoutMs, () => sendGoaway(conn, ctx, 'IdleTimeout'));
    }
    ctx.log.debug({ conn: conn.id, auth: auth.kind, port: role }, 'connection');
  });

  const fastHandler = createFastHandler(ctx);

  tlsServer.on(
    'stream',
    (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      stream.on('error', noop);
      if (!validating) return fastHandler(stream, headers);
      const path = headers[':path'] ?? '';
      const broadcast = role === 'provider' && isBroadcastPath(path);
      // Broadcasts and channel requests count in their own stats (handleAppApiStream).
      if (role === 'provider' && !broadcast) ctx.stats.requests++;
      const conn = stream.session ? sessionConn.get(stream.session) : undefined;
      if (!conn) return void stream.close();
      conn.streams.add(stream);
      stream.on('close', () => conn.streams.delete(stream));
      conn.highestStreamId = Math.max(conn.highestStreamId, stream.id ?? 0);
      const goawayReason = ctx.faults.onStream(conn, role);
      // The stream that trips goawayAfter is still answered; later ones are refused.
      if (goawayReason) sendGoaway(conn, ctx, goawayReason, stream.id);
      if (role === 'channels') handleChannelStream(ctx, conn, stream, headers);
      else if (broadcast) handleBroadcastStream(ctx, conn, stream, headers);
      else handleValidatingStream(ctx, conn, stream, headers, rawHeaders);
    },
  );
  tlsServer.on('sessionError', noop);
  tlsServer.on('tlsClientError', (err) => ctx.log.debug({ err }, 'tls client error'));

  // Both listeners chain onto the one hook, so a fault change reaches every connection.
  const previousHook = ctx.connectionSettingsChanged;
  ctx.connectionSettingsChanged = () => {
    previousHook();
    if (!validating) return;
    for (const conn of connections) applyStreamLimit(conn, ctx);
  };

  const front: NetServer = createNetServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', noop);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    rawSockets.set(key, socket);
    socket.once('close', () => rawSockets.delete(key));
    const delay = ctx.faults.tlsHandshakeDelayMs(role);
    if (delay > 0) setTimeout(() => !socket.destroyed && tlsServer.emit('connection', socket), delay);
    else tlsServer.emit('connection', socket);
  });

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port, options.host, () => {
      front.off('error', reject);
      resolve();
    });
  });
  const address = front.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  let closing: Promise<void> | undefined;
  return {
    port,
    connections,
    close(graceMs = 1000) {
      closing ??= (async () => {
        front.close();
        for (const conn of connections) sendGoaway(conn, ctx, 'Shutdown');
        const deadline = Date.now() + graceMs;
        while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        for (const conn of connections) conn.session.destroy();
        for (const socket of rawSockets.values()) socket.destroy();
        await new Promise<void>((r) => tlsServer.close(() => r()));
      })();
      return closing;
    },
  };
}
