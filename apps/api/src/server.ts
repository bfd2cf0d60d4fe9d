import { checkCredentials } from '@pushfleet/apns';
import { type AppDirectory, type Config, configDirectory } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import { DirectProducer } from '@pushfleet/queue';
import { AppRegistry, DeviceRegistry, IdempotencyStore, Ledger } from '@pushfleet/store';
import type { ApiMetrics, Logger } from '@pushfleet/telemetry';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { ApiKeyVerifier, authorize, authRequired } from './auth.ts';
import { ChannelClients } from './channel-clients.ts';
import type { RouteContext } from './context.ts';
import { registerDocs } from './docs.ts';
import { clientErrorHandler, createErrorHandler } from './error-handler.ts';
import { RateLimiter } from './rate-limit.ts';
import { registerAppRoutes } from './routes/apps.ts';
import { registerBroadcastRoutes } from './routes/broadcasts.ts';
import { registerCampaignRoutes } from './routes/campaigns.ts';
import { registerChannelRoutes } from './routes/channels.ts';
import { registerDeviceRoutes } from './routes/devices.ts';
import { registerFeedbackRoutes } from './routes/feedback.ts';
import { registerLiveActivityRoutes } from './routes/live.ts';
import { registerNotificationRoutes } from './routes/notifications.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerReportRoutes } from './routes/reports.ts';
import { serializerCompiler, validatorCompiler } from './schema/compilers.ts';

export interface ApiDeps {
  config: Readonly<Config>;
  /** A producer-role connection (fails fast, so requests answer 503 while Redis is away). */
  redis: Redis;
  metrics: ApiMetrics;
  registry: Registry;
  log: Logger;
  ready: () => Promise<boolean>;
  /**
   * The apps served (main.ts: `openAppDirectory`, config ∪ registry); closed with the api.
   * Default: the config file's apps only (registry apps can be written but are not served).
   */
  directory?: AppDirectory;
  /** The key-encryption key (`appRegistry.keyEncryptionKey`): without it, credential uploads are refused. */
  kek?: Buffer | undefined;
  now?: () => number;
  /** APNs' channel-management API per app × environment (tests give a fake); default: HTTP/2 clients. */
  channelClients?: ChannelClients;
}

/** Builds the HTTP API without listening, so tests can use `inject` or listen on port 0. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const { config, redis } = deps;
  const prefix = config.redis.prefix;
  const errorHandler = createErrorHandler((code) => deps.metrics.errors.inc({ code }));
  const ledger = new Ledger(redis, prefix);
  const directory = deps.directory ?? configDirectory(config);
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: (id) => directory.get(id)?.config,
    ledger,
    campaignPriority: config.api.campaignPriority,
    maxCampaignTokens: config.api.maxCampaignTokens,
    onQueueError: (err, app) => deps.log.warn({ err, app }, 'queue error'),
  });
  const ctx: RouteContext = {
    config,
    redis,
    prefix,
    producer,
    ledger,
    registry: new DeviceRegistry(redis, prefix),
    idempotency: new IdempotencyStore(redis, prefix, {
      ttlSeconds: config.api.idempotencyTtlSeconds,
      leaseMs: config.api.idempotencyLeaseMs,
    }),
    metrics: deps.metrics,
    directory,
    apps: new AppRegistry({ redis, prefix, config, kek: deps.kek, checkCredentials, now: deps.now }),
    now: deps.now ?? Date.now,
  };
  const verifier = new ApiKeyVerifier(config.api.keys, authRequired(config));
  const limiter = new RateLimiter(config.api.rateLimit.requestsPerSecond, config.api.rateLimit.burst);
  // scrypt checks of keys not seen before: 5/s per address (burst 10), 40/s in all (~2 cores' worth).
  const slowChecks = new RateLimiter(5, 10);
  const slowChecksAll = new RateLimiter(40, 40);

  const api = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: config.api.bodyLimitBytes,
    // Per-request access logs off: metrics count requests; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // Device tokens are up to 100 bytes = 200 hex characters in the path (Fastify's default is 100).
    routerOptions: { maxParamLength: 256 },
    // Router-level errors (bad URL, over-long parameter) bypass the error handler unless routed here.
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
    // Errors before there is a request (oversized headers, malformed HTTP) get a catalogued body too.
    clientErrorHandler: clientErrorHandler((code) => deps.metrics.errors.inc({ code })),
  });
  api.decorateRequest('principal', null);
  // Routes declare their request and response schemas with zod (see apps/api/README.md): Fastify
  // validates with them, @fastify/swagger documents them at /docs/json and /docs.
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);
  registerDocs(api);
  api.setErrorHandler(errorHandler);
  api.setNotFoundHandler((request, reply) =>
    errorHandler(new PushfleetError('PF_ERR_NOT_FOUND'), request, reply),
  );
  // Auth runs before the body is read: 401/403/429 cost no parsing and no Redis.
  api.addHook('onRequest', async (request, reply) => {
    const permission = request.routeOptions.config?.permission;
    if (!permission) return;
    const principal = await verifier.authenticate(request.headers.authorization, () => {
      // An unknown key would cost a scrypt: limited per client address (and fleet of addresses)
      // before any CPU is spent on it.
      const wait = Math.max(slowChecks.take(`ip:${request.ip}`), slowChecksAll.take('all'));
      if (wait > 0) {
        void reply.header('retry-after', String(wait));
        throw new PushfleetError('PF_ERR_RATE_LIMITED', 'too many unknown API keys; retry later');
      }
    });
    // Open mode (no keys): everyone is `anonymous`, so the bucket is per client address instead.
    const wait = limiter.take(principal.id === 'anonymous' ? `ip:${request.ip}` : principal.id);
    if (wait > 0) {
      void reply.header('retry-after', String(wait));
      throw new PushfleetError('PF_ERR_RATE_LIMITED');
    }
    authorize(principal, (request.params as { app?: string }).app, permission);
    request.principal = principal;
  });
  api.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  const channelClients =
    deps.channelClients ??
    new ChannelClients({
      app: (id) => directory.get(id)?.config,
      credentials: (id) => directory.credentials(id),
      revision: (id) => directory.get(id)?.revision ?? '',
      requestTimeoutMs: config.worker.requestTimeoutMs,
    });
  api.addHook('onClose', async () => {
    await channelClients.close();
    await producer.close();
    await directory.close();
  });
  // Idle keep-alive connections close at once (Fastify); busy ones get a grace period, then go.
  api.addHook('preClose', async () => {
    setTimeout(() => api.server.closeAllConnections(), config.api.shutdownGraceMs).unref();
  });

  // In a plugin registered after the docs plugin: its routes are added once that one is loaded,
  // so @fastify/swagger's onRoute hook sees every route.
  void api.register(async (routes) => {
    registerOpsRoutes(routes, deps);
    registerNotificationRoutes(routes, ctx);
    registerCampaignRoutes(routes, ctx);
    registerDeviceRoutes(routes, ctx);
    registerFeedbackRoutes(routes, ctx);
    registerReportRoutes(routes, ctx);
    registerAppRoutes(routes, ctx);
    registerLiveActivityRoutes(routes, ctx);
    registerChannelRoutes(routes, ctx, channelClients);
    registerBroadcastRoutes(routes, ctx);
  });
  return api;
}
