import { Readable } from 'node:stream';
import {
  type Environment,
  environments,
  isValidDeviceToken,
  normalizeDeviceToken,
  PushfleetError,
  parseOrThrow,
  resolveEnvironment,
} from '@pushfleet/core';
import type { DeviceInput } from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, type RouteContext } from '../context.ts';
import { parseJsonLine, readLines } from '../line-stream.ts';

type TokenParams = AppParams & { token: string };

const indexName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'no whitespace or ":"');

export const deviceBodySchema = z
  .object({
    environment: z.enum(environments).optional(),
    userId: indexName.optional(),
    tags: z.array(indexName).max(50).optional(),
    locale: z.string().min(2).max(35).optional(),
  })
  .strict();

export const deviceImportLineSchema = deviceBodySchema.extend({ token: z.string() }).strict();

const importJsonSchema = z.object({ devices: z.array(z.unknown()).max(10_000) }).strict();

/** Registrations written per pipeline during an import. */
const importChunk = 1000;

function tokenParam(raw: string): string {
  if (!isValidDeviceToken(raw))
    throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: 'token' });
  return normalizeDeviceToken(raw);
}

export function registerDeviceRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const environmentOf = (app: string, raw: unknown): Environment => {
    const env = raw === undefined ? undefined : parseOrThrow(z.enum(environments), raw);
    return resolveEnvironment(appConfigOf(ctx, app), env);
  };

  api.put<{ Params: TokenParams }>(
    '/v1/apps/:app/devices/:token',
    { config: { permission: 'register' } },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const token = tokenParam(request.params.token);
      const body = parseOrThrow(deviceBodySchema, request.body ?? {});
      const environment = environmentOf(app, body.environment);
      return ctx.registry.register(app, { ...body, token, environment }, ctx.now());
    },
  );

  api.get<{ Params: TokenParams; Querystring: { environment?: string } }>(
    '/v1/apps/:app/devices/:token',
    { config: { permission: 'read' } },
    async (request) => {
      const { app } = request.params;
      const environment = environmentOf(app, request.query.environment);
      const device = await ctx.registry.get(app, environment, tokenParam(request.params.token));
      if (!device) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such device', { field: 'token' });
      return device;
    },
  );

  api.delete<{ Params: TokenParams; Querystring: { environment?: string } }>(
    '/v1/apps/:app/devices/:token',
    { config: { permission: 'register' } },
    async (request, reply) => {
      const { app } = request.params;
      const environment = environmentOf(app, request.query.environment);
      const removed = await ctx.registry.unregister(app, environment, tokenParam(request.params.token));
      if (!removed) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such device', { field: 'token' });
      return reply.status(204).send();
    },
  );

  void api.register(async (scope) => {
    scope.addContentTypeParser('application/x-ndjson', (_request, payload, done) => done(null, payload));
    /**
     * Bulk import: NDJSON (one `{token, environment?, userId?, tags?, locale?}` per line, any
     * size, streamed) or JSON `{ devices: [...] }` (≤ 10,000). Registration is an upsert, so an
     * import that stopped at a bad line (400 naming it) can simply be run again.
     */
    scope.post<{ Params: AppParams }>(
      '/v1/apps/:app/devices/import',
      { config: { permission: 'register' } },
      async (request) => {
        const { app } = request.params;
        appConfigOf(ctx, app);
        let imported = 0;
        let batch: DeviceInput[] = [];
        const flush = async () => {
          await ctx.registry.registerMany(app, batch, ctx.now());
          imported += batch.length;
          batch = [];
        };
        const take = async (raw: unknown, field: string) => {
          const parsed = deviceImportLineSchema.safeParse(raw);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            throw new PushfleetError('PF_ERR_VALIDATION', `${field}: ${issue.message}`, {
              field: [field, ...issue.path.map(String)].join('.'),
            });
          }
          if (!isValidDeviceToken(parsed.data.token))
            throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: `${field}.token` });
          const environment = environmentOf(app, parsed.data.environment);
          batch.push({ ...parsed.data, token: normalizeDeviceToken(parsed.data.token), environment });
          if (batch.length >= importChunk) await flush();
        };
        if (request.body instanceof Readable) {
          for await (const lines of readLines(request.body)) {
            for (const line of lines) await take(parseJsonLine(line), `line.${line.no}`);
          }
        } else {
          const { devices } = parseOrThrow(importJsonSchema, request.body);
          for (const [i, device] of devices.entries()) await take(device, `devices.${i}`);
        }
        await flush();
        return { imported };
      },
    );
  });
}
