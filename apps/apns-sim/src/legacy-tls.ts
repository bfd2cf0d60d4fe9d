import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { SimContext } from './sim-context.ts';
import { type ClientCertificateInfo, readClientCertificate } from './tls-material.ts';

export interface LegacyTlsOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  clientCaPems: string[];
}

export interface LegacyServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A TLS listener for the legacy interfaces, which authenticate with the client certificate
 * only (docs/apns-protocol.md §D, §E). Connections without a trusted certificate for this
 * environment are dropped, as Apple's handshake would fail them; `--legacy-allow-anonymous`
 * lets certificate-less clients in (they see every topic).
 */
export async function startLegacyTlsServer(
  ctx: SimContext,
  options: LegacyTlsOptions,
  onClient: (socket: TLSSocket, cert: ClientCertificateInfo | undefined) => void,
): Promise<LegacyServer> {
  const sockets = new Set<TLSSocket>();
  const server: Server = createServer(
    {
      cert: options.certPem,
      key: options.keyPem,
      ca: options.clientCaPems,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      const peer = socket.getPeerCertificate(true);
      const hasCert = peer && 'raw' in peer && peer.raw;
      if (!hasCert) {
        if (ctx.settings.legacyAllowAnonymous) return onClient(socket, undefined);
        return void socket.destroy();
      }
      let info: ClientCertificateInfo;
      try {
        info = readClientCertificate(peer.raw);
      } catch {
        return void socket.destroy();
      }
      const envOk = info.environment === 'both' || info.environment === ctx.settings.environment;
      if (!socket.authorized || !envOk) return void socket.destroy();
      onClient(socket, info);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
