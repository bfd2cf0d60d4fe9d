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
import {
  appParams,
  environmentQuery,
  exampleToken,
  jsonResponse,
  streamedBody,
  tokenParams,
} from '../schema/common.ts';
import { appRoute, errorResponses, jsonBody } from '../schema/errors.ts';
import { deviceRegistrationSchema, importResultSchema } from '../schema/responses.ts';

type TokenParams = AppParams & { token: string };

const indexName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s:]+$/, 'no whitespace or ":"');

export const deviceBodySchema = z
  .object({
    environment: z
      .enum(environments)
      .optional()
      .describe('APNs environment the token belongs to; default: the app’s first configured one'),
    userId: indexName
      .optional()
      .describe('Your user id for the device (notify by `userIds`)')
      .meta({ example: 'u-1842' }),
    tags: z
      .array(indexName)
      .max(50)
      .optional()
      .describe('Tags to notify the device by (≤ 50); replaces the previous ones')
      .meta({ example: ['vip'] }),
    locale: z.string().min(2).max(35).optional().describe('The device’s locale').meta({ example: 'en-GB' }),
  })
  .strict()
  .meta({
    id: 'Device',
    description: 'A registration: all fields optional.',
    example: { userId: 'u-1842', tags: ['vip'], locale: 'en-GB' },
  });

export const deviceImportLineSchema = deviceBodySchema
  .extend({
    token: z
      .string()
      .describe('Device token, hex (a bad one is `PF_ERR_BAD_DEVICE_TOKEN`)')
      .meta({ example: exampleToken }),
  })
  .strict()
  .meta({
    id: 'DeviceImportLine',
    description: 'One device of an import. NDJSON: one such object per line.',
    example: { token: exampleToken, userId: 'u-1842', tags: ['vip'], locale: 'en-GB' },
  });

const importJsonSchema = z
  .object({
    devices: z
      .array(z.unknown().meta({ $ref: '#/components/schemas/DeviceImportLine' }))
      .max(10_000)
      .describe('Up to 10,000 devices (larger imports: NDJSON); each is checked as a DeviceImportLine'),
  })
  .strict()
  .meta({
    id: 'DeviceImport',
    example: { devices: [{ token: exampleToken, userId: 'u-1842', tags: ['vip'] }] },
  });

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
    {
      config: { permission: 'register' },
      schema: {
        tags: ['devices'],
        operationId: 'registerDevice',
        summary: 'Register a device',
        description:
          'Registers or refreshes a token (records `registeredAt`); its user and tag indexes follow atomically. ' +
          'The body may be left out.',
        params: tokenParams,
        body: deviceBodySchema.optional(),
        response: {
          200: jsonResponse('The registration', deviceRegistrationSchema),
          ...errorResponses(
            ...appRoute,
            ...jsonBody,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
          ),
        },
      },
    },
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
    {
      config: { permission: 'read' },
      schema: {
        tags: ['devices'],
        operationId: 'getDevice',
        summary: 'Read a registration',
        params: tokenParams,
        querystring: environmentQuery,
        response: {
          200: jsonResponse('The registration', deviceRegistrationSchema),
          ...errorResponses(
            ...appRoute,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_NOT_FOUND',
          ),
        },
      },
    },
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
    {
      config: { permission: 'register' },
      schema: {
        tags: ['devices'],
        operationId: 'unregisterDevice',
        summary: 'Unregister a device',
        params: tokenParams,
        querystring: environmentQuery,
        response: {
          204: z.undefined().describe('Removed'),
          ...errorResponses(
            ...appRoute,
            'PF_ERR_BAD_DEVICE_TOKEN',
            'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            'PF_ERR_NOT_FOUND',
          ),
        },
      },
    },
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
      {
        config: { permission: 'register' },
        schema: {
          tags: ['devices'],
          operationId: 'importDevices',
          summary: 'Import devices',
          description:
            'NDJSON (one DeviceImportLine per line, any size, streamed) or JSON `{ devices: [...] }` ' +
            '(≤ 10,000). An upsert: an import stopped by a bad line (400 naming it, `line.<n>` or ' +
            '`devices.<i>`) can be run again.',
          params: appParams,
          body: {
            content: {
              'application/x-ndjson': streamedBody(deviceImportLineSchema),
              'application/json': { schema: importJsonSchema },
            },
          },
          response: {
            200: jsonResponse('Every line was registered', importResultSchema),
            ...errorResponses(
              ...appRoute,
              ...jsonBody,
              'PF_ERR_BAD_DEVICE_TOKEN',
              'PF_ERR_ENVIRONMENT_NOT_ENABLED',
            ),
          },
        },
      },
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
