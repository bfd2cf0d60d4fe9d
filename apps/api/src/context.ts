import { createHash, randomUUID } from 'node:crypto';
import type { AppConfig, Config } from '@pushfleet/config';
import { PushfleetError } from '@pushfleet/core';
import type { DirectProducer } from '@pushfleet/queue';
import type {
  CampaignStore,
  DeviceRegistry,
  IdempotencyStore,
  NotificationStatusStore,
} from '@pushfleet/store';
import type { ApiMetrics } from '@pushfleet/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Permission, Principal } from './auth.ts';

/** Everything a route needs, built once in buildApi. */
export interface RouteContext {
  config: Readonly<Config>;
  redis: Redis;
  prefix: string;
  producer: DirectProducer;
  status: NotificationStatusStore;
  campaigns: CampaignStore;
  registry: DeviceRegistry;
  idempotency: IdempotencyStore;
  metrics: ApiMetrics;
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

export function appConfigOf(ctx: RouteContext, app: string): AppConfig {
  const config = ctx.config.apps[app];
  if (!config) throw new PushfleetError('PF_ERR_UNKNOWN_APP', undefined, { field: 'app' });
  return config;
}

/** A UUID derived from a seed: the same Idempotency-Key always names the same notification. */
export function deterministicUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
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

/**
 * Runs `run` at most once per Idempotency-Key (scoped to the API key, app and route) within
 * `api.idempotencyTtlSeconds`: a repeat gets the stored answer, a concurrent repeat 409, a reused
 * key with a different request 422. `run` gets the id to use — derived from the key, so even a
 * retry after a crash mid-request adds the same (deduplicated) job ids.
 */
export async function idempotent(
  ctx: RouteContext,
  request: FastifyRequest<{ Params: AppParams }>,
  reply: FastifyReply,
  fingerprintSource: string,
  run: (id: string, keepAlive: () => Promise<void>) => Promise<Answer>,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(request);
  if (key === undefined) {
    const answer = await run(randomUUID(), async () => undefined);
    return reply.status(answer.status).send(answer.body);
  }
  const scope = `${request.principal?.id ?? 'anonymous'}:${request.params.app}:${request.routeOptions.url}`;
  const fingerprint = createHash('sha256').update(fingerprintSource).digest('hex');
  const begun = await ctx.idempotency.begin(scope, key, fingerprint);
  if (begun.kind === 'in-progress') throw new PushfleetError('PF_ERR_IDEMPOTENCY_IN_PROGRESS');
  if (begun.kind === 'mismatch')
    throw new PushfleetError('PF_ERR_IDEMPOTENCY_MISMATCH', undefined, { field: 'Idempotency-Key' });
  if (begun.kind === 'replay') {
    return reply.status(begun.status).header('idempotent-replayed', 'true').send(begun.body);
  }
  let answer: Answer;
  try {
    answer = await run(deterministicUuid(`${scope}:${key}`), () => ctx.idempotency.touch(scope, key));
  } catch (err) {
    // Nothing was accepted: free the key so the client can retry it.
    await ctx.idempotency.abandon(scope, key).catch(() => undefined);
    throw err;
  }
  await ctx.idempotency.complete(scope, key, fingerprint, answer, ctx.config.api.idempotencyTtlSeconds);
  return reply.status(answer.status).send(answer.body);
}
