import { createHash, randomUUID } from 'node:crypto';
import type { AppConfig, AppDirectory, Config } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import type { DirectProducer } from '@pushfleet/queue';
import type { AppRegistry, DeviceRegistry, IdempotencyStore, Ledger } from '@pushfleet/store';
import type { ApiMetrics } from '@pushfleet/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Permission, Principal } from './auth.ts';

/** Everything a route needs, built once in buildApi. */
export interface RouteContext {
  config: Readonly<Config>;
  redis: Redis;
  prefix: string;
  producer: DirectProducer;
  ledger: Ledger;
  registry: DeviceRegistry;
  idempotency: IdempotencyStore;
  metrics: ApiMetrics;
  /** The apps this api serves (config ∪ registry), kept current in memory: no Redis per lookup. */
  directory: AppDirectory;
  /** Writes of the app registry (the admin routes). */
  apps: AppRegistry;
  now: () => number;
}

export type AppParams = { app: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Routes with a permission require an API key allowed to use it on `:app`. */
    permission?: Permission;
  }
}

/** The app's settings (config file or registry), or PF_ERR_UNKNOWN_APP. Reads serve disabled apps too. */
export function appConfigOf(ctx: RouteContext, app: string): AppConfig {
  const entry = ctx.directory.get(app);
  if (!entry) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
  return entry.config;
}

/** As `appConfigOf`, for routes that create work: a disabled app takes none (PF_ERR_APP_DISABLED). */
export function sendableAppOf(ctx: RouteContext, app: string): AppConfig {
  const config = appConfigOf(ctx, app);
  if (ctx.directory.get(app)?.state === 'disabled') {
    throw new PushfleetError('PF_ERR_APP_DISABLED', `app ${app} is disabled; enable it to send`, {
      field: 'app',
    });
  }
  return config;
}

export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > 255) {
    throw new PushfleetError('PF_ERR_VALIDATION', 'Idempotency-Key is 1–255 characters', {
      field: 'Idempotency-Key',
    });
  }
  return raw;
}

export interface Answer {
  status: number;
  body: unknown;
}

/** What a creating route gets from `idempotent`. */
export interface Accept {
  /** The id of what the request creates: fresh for every claim of a key, never derived from the key. */
  id: string;
  /** Keeps a long request's claim on its key (an upload of millions of lines). */
  keepAlive(): Promise<void>;
  /** Stores the answer in the transaction that accepts the request (nothing without a key). */
  stageAnswer(tx: ChainableCommander, answer: Answer): void;
}

/**
 * Runs `run` at most once per Idempotency-Key (scoped to the API key, app and route) within
 * `api.idempotencyTtlSeconds`: a repeat gets the stored answer, a concurrent repeat 409, a reused
 * key with a different request 422. The answer is stored by the same transaction that accepts the
 * request, so a request that answered 503 after Redis committed it is replayed, not run twice,
 * and one that never committed runs again.
 */
export async function idempotent(
  ctx: RouteContext,
  request: FastifyRequest<{ Params: AppParams }>,
  reply: FastifyReply,
  fingerprintSource: string,
  run: (accept: Accept) => Promise<Answer>,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(request);
  if (key === undefined) {
    const answer = await run({
      id: randomUUID(),
      keepAlive: async () => undefined,
      stageAnswer: () => undefined,
    });
    return reply.status(answer.status).send(answer.body);
  }
  const ref = {
    app: request.params.app,
    scope: `${request.principal?.id ?? 'anonymous'}:${request.routeOptions.url}`,
    key,
  };
  const fingerprint = createHash('sha256').update(fingerprintSource).digest('hex');
  const begun = await ctx.idempotency.begin(ref, fingerprint, ctx.now());
  if (begun.kind === 'in-progress') throw new PushfleetError('PF_ERR_IDEMPOTENCY_IN_PROGRESS');
  if (begun.kind === 'mismatch')
    throw new PushfleetError('PF_ERR_IDEMPOTENCY_MISMATCH', undefined, { field: 'Idempotency-Key' });
  if (begun.kind === 'replay') {
    // The original request's activity mark may have been lost: marking again is cheap and safe.
    await ctx.producer.queues.markActive(request.params.app, ctx.now());
    return reply.status(begun.status).header('idempotent-replayed', 'true').send(begun.body);
  }
  let answer: Answer;
  try {
    answer = await run({
      id: begun.id,
      keepAlive: () => ctx.idempotency.touch(ref, begun.id, ctx.now()),
      stageAnswer: (tx, a) => ctx.idempotency.stageAnswer(tx, ref, fingerprint, a),
    });
  } catch (err) {
    // Free the key for a retry, unless the commit happened after all (then its answer stays).
    await ctx.idempotency.abandon(ref, begun.id).catch(() => undefined);
    throw err;
  }
  return reply.status(answer.status).send(answer.body);
}
