import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PushfleetError } from '@pushfleet/core';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  host: string;
  port: number;
  /** The config field the port comes from, for the error when it is taken (e.g. `worker.port`). */
  portField?: string;
  /** What `/metrics` serves (a registry, or several merged). */
  registry: Pick<Registry, 'contentType' | 'metrics'>;
  /** Readiness: resolves true when the process can do its job (e.g. Redis answers). */
  ready?: () => Promise<boolean>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `/metrics`, `/healthz` (liveness: the process answers; never checks Redis, or a Redis blip
 * would restart the fleet) and `/readyz` (readiness), for processes without their own HTTP API.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    void handleOpsRequest(req.url ?? '/', options).then(({ status, type, body }) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      // Two processes of one kind on one host: say which setting to change.
      const field = options.portField ?? 'port';
      reject(
        new PushfleetError(
          'PF_ERR_CONFIG',
          `${options.host}:${options.port} is in use (another process on this host?): give each process its own ${field}, or 0 for a free port`,
          { field },
        ),
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export async function handleOpsRequest(
  url: string,
  options: Pick<OpsServerOptions, 'registry' | 'ready'>,
): Promise<{ status: number; type: string; body: string }> {
  const path = url.split('?')[0];
  if (path === '/metrics') {
    // A collector that fails (Redis down under a scrape-time gauge, a thread shutting down) is a
    // failed scrape, not a crashed process.
    const body = await options.registry.metrics().catch(() => undefined);
    return body === undefined
      ? {
          status: 503,
          type: 'application/json',
          body: '{"code":"PF_ERR_INTERNAL","message":"metrics unavailable"}',
        }
      : { status: 200, type: options.registry.contentType, body };
  }
  if (path === '/healthz') return { status: 200, type: 'application/json', body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const ready = options.ready ? await options.ready().catch(() => false) : true;
    return ready
      ? { status: 200, type: 'application/json', body: '{"status":"ready"}' }
      : { status: 503, type: 'application/json', body: '{"status":"not-ready"}' };
  }
  return { status: 404, type: 'application/json', body: '{"code":"PF_ERR_NOT_FOUND"}' };
}
