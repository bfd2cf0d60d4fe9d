import { createServer, type IncomingMessage, type Server } from 'node:http';
import { z } from 'zod';
import { channelRoute } from './control-channels.ts';
import { HttpError, parse, readJson, send } from './control-http.ts';
import type { SimContext } from './sim-context.ts';
import { createClientCertificate } from './tls-material.ts';

const environment = z.enum(['sandbox', 'production']);
const hexToken = z.string().regex(/^[0-9a-fA-F]+$/, 'token must be hex');

const keyBody = z.object({
  keyId: z.string().min(1),
  teamId: z.string().min(1),
  publicKeyPem: z.string().min(1),
  topics: z.array(z.string().min(1)).optional(),
  environment: z.enum(['sandbox', 'production', 'both']).optional(),
  relatedKeyId: z.string().optional(),
});
const deviceBody = z.object({
  token: hexToken,
  topic: z.string().min(1),
  environment: environment.optional(),
});
const unregisterBody = z.object({
  token: hexToken,
  topic: z.string().min(1),
  timestamp: z.number().int().nonnegative().optional(),
  reason: z.enum(['Unregistered', 'ExpiredToken']).optional(),
});
const positiveInt = z.number().int().positive();
const faultBody = z
  .object({
    status: z.number().int().min(400).max(599).optional(),
    reason: z.string().min(1).optional(),
    rate: z.number().min(0).max(1).optional(),
    token: hexToken.optional(),
    target: z.enum(['device', 'broadcast', 'channels', 'all']).optional(),
    channelId: z.string().min(1).optional(),
    count: positiveInt.optional(),
    retryAfter: z.number().int().nonnegative().optional(),
    latencyMs: z.number().nonnegative().optional(),
    latencyJitterMs: z.number().nonnegative().optional(),
    timestamp: z.number().int().nonnegative().optional(),
    durationMs: positiveInt.optional(),
    goawayAfter: positiveInt.optional(),
    reset: z.union([z.boolean(), z.enum(['connection', 'stream'])]).optional(),
    maxConcurrentStreams: positiveInt.optional(),
    dropToOneAfterRejection: z.boolean().optional(),
    tlsHandshakeDelayMs: z.number().nonnegative().optional(),
    legacyStatus: z.number().int().min(1).max(255).optional(),
  })
  .strict();
const clientCertBody = z.object({
  topics: z.array(z.string().min(1)).min(1),
  environment: z.enum(['sandbox', 'production', 'both']).optional(),
  untrusted: z.boolean().optional(),
  expired: z.boolean().optional(),
});

/** Routes of the control API (README "Control API"). */
async function route(ctx: SimContext, req: IncomingMessage, url: URL): Promise<[number, unknown]> {
  const { registry, stats, faults, deliveries, settings } = ctx;
  const key = `${req.method} ${url.pathname}`;
  if (req.method === 'DELETE' && url.pathname.startsWith('/keys/')) {
    const keyId = decodeURIComponent(url.pathname.slice('/keys/'.length));
    if (!registry.removeKey(keyId)) throw new HttpError(404, `no key ${keyId}`);
    return [200, { keyId, revoked: true }];
  }
  switch (key) {
    case 'POST /keys': {
      const body = parse(keyBody, await readJson(req));
      try {
        registry.addKey(body);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      return [201, { keyId: body.keyId }];
    }
    case 'POST /devices': {
      const body = parse(deviceBody, await readJson(req));
      const device = registry.addDevice({ ...body, environment: body.environment ?? settings.environment });
      return [201, { token: device.token, bundleId: device.bundleId, environment: device.environment }];
    }
    case 'POST /devices/unregister': {
      const body = parse(unregisterBody, await readJson(req));
      const device = registry.unregister({
        token: body.token,
        topic: body.topic,
        timestamp: body.timestamp ?? ctx.now(),
        reason: body.reason ?? 'Unregistered',
        environment: settings.environment,
      });
      return [200, { token: device.token, ...device.invalid }];
    }
    case 'POST /faults': {
      const body = parse(faultBody, await readJson(req));
      try {
        const fault = faults.add(body);
        return [201, { id: fault.id }];
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    }
    case 'DELETE /faults':
      faults.clear();
      return [200, { cleared: true }];
    case 'GET /faults':
      return [200, faults.list().map(({ streamsSeen: _s, acc: _a, ...rest }) => rest)];
    case 'GET /stats': {
      const summary = deliveries.summary();
      return [
        200,
        {
          requests: stats.requests,
          accepted: stats.accepted,
          rejected: stats.rejected,
          connections: stats.connections,
          openConnections: stats.openConnections,
          deliveriesTotal: deliveries.total,
          duplicates: settings.mode === 'fast' ? null : summary.duplicates,
          faultsFired: faults.fired,
          goaways: stats.goaways,
          resets: stats.resets,
          legacyNotifications: stats.legacyNotifications,
          legacyErrors: stats.legacyErrors,
          feedbackReads: stats.feedbackReads,
          acceptedByKey: { ...stats.acceptedByKey },
          broadcasts: { ...stats.broadcasts },
          channels: {
            ...stats.channels,
            created: ctx.channels.created,
            deleted: ctx.channels.deleted,
            active: ctx.channels.activeCount(),
            connections: stats.channelConnections,
            openConnections: stats.openChannelConnections,
          },
          mode: settings.mode,
          environment: settings.environment,
        },
      ];
    }
    case 'GET /deliveries': {
      if (settings.mode === 'fast')
        throw new HttpError(409, 'fast mode counts deliveries but does not record them');
      const token = url.searchParams.get('token');
      if (!token) throw new HttpError(400, 'token query parameter is required; see /deliveries/summary');
      return [200, deliveries.forToken(token)];
    }
    case 'GET /deliveries/summary': {
      if (settings.mode === 'fast') {
        return [200, { tokens: null, deliveries: deliveries.total, duplicateTokens: null, duplicates: null }];
      }
      return [200, deliveries.summary()];
    }
    case 'POST /client-certs': {
      const body = parse(clientCertBody, await readJson(req));
      return [201, createClientCertificate(ctx.clientCa, body)];
    }
    case 'POST /reset':
      registry.clear();
      deliveries.clear();
      stats.clear();
      faults.clear();
      ctx.channels.clear();
      return [200, { reset: true }];
    case 'GET /healthz':
      return [200, { ok: true }];
    default: {
      const answer = await channelRoute(ctx, req, url);
      if (answer) return answer;
      throw new HttpError(404, `no route ${key}`);
    }
  }
}

export interface ControlServer {
  port: number;
  close(): Promise<void>;
}

/** The control API: plain HTTP/1.1 JSON, meant for loopback use by tests and tools. */
export async function startControlServer(
  ctx: SimContext,
  host: string,
  port: number,
): Promise<ControlServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    route(ctx, req, url).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => {
        if (err instanceof HttpError) send(res, err.status, { error: err.message });
        else {
          ctx.log.error({ err }, 'control api failure');
          send(res, 500, { error: (err as Error).message ?? 'internal error' });
        }
      },
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
