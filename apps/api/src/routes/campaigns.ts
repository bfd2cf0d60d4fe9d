import { Readable } from 'node:stream';
import {
  campaignSpecSchema,
  isValidDeviceToken,
  PushfleetError,
  validateCampaignSpec,
} from '@pushfleet/core';
import { settleCancelled } from '@pushfleet/queue';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, idempotent, type RouteContext, sendableAppOf } from '../context.ts';
import { type Line, parseJsonLine, readLines } from '../line-stream.ts';
import {
  appParams,
  exampleToken,
  idempotencyHeaders,
  idParams,
  jsonResponse,
  replayedHeader,
  streamedBody,
} from '../schema/common.ts';
import { appRoute, errorResponses, idempotentCreate, jsonBody } from '../schema/errors.ts';
import { campaignAcceptedSchema, campaignListSchema, campaignStatusSchema } from '../schema/responses.ts';

type IdParams = AppParams & { id: string };

/** Header carrying the campaign spec for text/plain uploads (JSON, or base64url of it). */
export const campaignSpecHeader = 'pushfleet-campaign';

const uploadTypes = ['application/x-ndjson', 'text/plain'];

const createHeaders = idempotencyHeaders.extend({
  'Pushfleet-Campaign': z
    .string()
    .optional()
    .describe(
      'text/plain uploads: the campaign spec (CampaignSpec without `audience`), as JSON or base64url of it',
    ),
});

const specLine = JSON.stringify({ name: 'Spring sale', notification: { alert: 'Sale: 20% off today' } });
const createBody = {
  content: {
    'application/json': { schema: campaignSpecSchema },
    'application/x-ndjson': streamedBody(
      z
        .string()
        .describe(
          'Streamed, any size: the first line is the CampaignSpec (without `audience`), then one token per ' +
            'line, `"<hex>"` or `{"token":"<hex>"}`. A bad line rejects the whole upload (`field: line.<n>`).',
        )
        .meta({
          example: `${specLine}\n"${exampleToken}"\n{"token":"${exampleToken.replace('5f', '6a')}"}\n`,
        }),
    ),
    'text/plain': streamedBody(
      z
        .string()
        .describe(
          'Streamed, any size: one hex token per line; the spec is in the `Pushfleet-Campaign` header.',
        )
        .meta({ example: `${exampleToken}\n${exampleToken.replace('5f', '6a')}\n` }),
    ),
  },
};

const listQuery = z.object({
  limit: z.coerce
    .number()
    .int('limit is 1–500')
    .min(1, 'limit is 1–500')
    .max(500, 'limit is 1–500')
    .optional()
    .describe('Campaigns per page, 1–500 (default 50)'),
  before: z.coerce
    .number()
    .optional()
    .describe('A creation time in ms: list campaigns created before it (the previous page’s `next`)'),
});

function specFromHeader(raw: string | string[] | undefined): unknown {
  if (typeof raw !== 'string') return undefined;
  const text = raw.trimStart().startsWith('{') ? raw : Buffer.from(raw, 'base64url').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new PushfleetError('PF_ERR_INVALID_JSON', `${campaignSpecHeader} is not JSON`, {
      field: campaignSpecHeader,
    });
  }
}

/** One audience line → token: NDJSON lines are `"<hex>"` or `{"token":"<hex>"}`; text lines bare hex. */
function tokenOf(line: Line, ndjson: boolean): string {
  let token: unknown = line.text;
  if (ndjson && (line.text.startsWith('"') || line.text.startsWith('{'))) {
    const value = parseJsonLine(line);
    token = typeof value === 'object' && value !== null ? (value as { token?: unknown }).token : value;
  }
  if (!isValidDeviceToken(token))
    throw new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', `line ${line.no}`, { field: `line.${line.no}` });
  return token;
}

async function* tokensOf(
  first: Line[],
  rest: AsyncIterator<Line[]>,
  ndjson: boolean,
): AsyncGenerator<string[]> {
  if (first.length > 0) yield first.map((line) => tokenOf(line, ndjson));
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value.map((line) => tokenOf(line, ndjson));
  }
}

export function registerCampaignRoutes(api: FastifyInstance, ctx: RouteContext): void {
  // Encapsulated: only these routes take streamed bodies; the parser hands over the raw stream,
  // which the handler consumes line by line (constant memory for millions of lines).
  void api.register(async (scope) => {
    scope.addContentTypeParser(uploadTypes, (_request, payload, done) => done(null, payload));

    scope.post<{ Params: AppParams }>(
      '/v1/apps/:app/campaigns',
      {
        config: { permission: 'send' },
        bodyLimit: ctx.config.api.campaignBodyLimitBytes,
        schema: {
          tags: ['campaigns'],
          operationId: 'createCampaign',
          summary: 'Create a campaign',
          description:
            'Answers as soon as the audience is stored; the fan-out worker expands it into deliver batches. ' +
            'The audience is an uploaded token list, streamed in constant memory (`application/x-ndjson` with ' +
            'the spec on the first line, or `text/plain` with the spec in `Pushfleet-Campaign`), or JSON with ' +
            '`audience`: the device registry (`all`, `tags`, `users`) or up to 100,000 inline `tokens`. JSON ' +
            'bodies may be up to `api.campaignBodyLimitBytes`. For uploads `Idempotency-Key` covers the spec, ' +
            'not the lines.',
          params: appParams,
          headers: createHeaders,
          body: createBody,
          response: {
            202: jsonResponse('Accepted: the audience is stored', campaignAcceptedSchema, replayedHeader),
            ...errorResponses(
              ...appRoute,
              ...jsonBody,
              ...idempotentCreate,
              'PF_ERR_TOO_MANY_TOKENS',
              'PF_ERR_BAD_DEVICE_TOKEN',
              'PF_ERR_EMPTY_AUDIENCE',
              'PF_ERR_PAYLOAD_TOO_LARGE',
              'PF_ERR_ENVIRONMENT_NOT_ENABLED',
              'PF_ERR_APP_DISABLED',
            ),
          },
        },
      },
      async (request, reply) => {
        const { app } = request.params;
        const target = sendableAppOf(ctx, app);
        const body = request.body;
        if (!(body instanceof Readable)) {
          // JSON: the audience is the registry (all, tags, users) or an inline token list.
          const valid = validateCampaignSpec(body, target, ctx.now());
          if (!valid.audience) {
            throw new PushfleetError('PF_ERR_VALIDATION', 'audience is required (or upload the tokens)', {
              field: 'audience',
            });
          }
          if (
            valid.audience.kind !== 'tokens' &&
            (await ctx.registry.largestIndex(app, valid.environment, valid.audience)) >
              ctx.config.api.maxCampaignTokens
          ) {
            throw new PushfleetError(
              'PF_ERR_TOO_MANY_TOKENS',
              `the audience has more than api.maxCampaignTokens (${ctx.config.api.maxCampaignTokens}) devices`,
              { field: 'audience' },
            );
          }
          return idempotent(ctx, request, reply, JSON.stringify(body), async (accept) => {
            const created = await ctx.producer.createCampaign(app, body, undefined, {
              id: accept.id,
              now: ctx.now(),
              commit: (tx, c) => accept.stageAnswer(tx, { status: 202, body: c }),
            });
            return { status: 202, body: created };
          });
        }

        const ndjson = (request.headers['content-type'] ?? '').startsWith('application/x-ndjson');
        const lines = readLines(body)[Symbol.asyncIterator]();
        let spec = specFromHeader(request.headers[campaignSpecHeader]);
        let first: Line[] = [];
        if (spec === undefined) {
          if (!ndjson) {
            throw new PushfleetError(
              'PF_ERR_VALIDATION',
              `text/plain uploads carry the spec in ${campaignSpecHeader}`,
              {
                field: campaignSpecHeader,
              },
            );
          }
          const head = await lines.next();
          if (head.done) throw new PushfleetError('PF_ERR_VALIDATION', 'empty body', { field: 'line.1' });
          spec = parseJsonLine(head.value[0]!);
          first = head.value.slice(1);
        }
        const valid = validateCampaignSpec(spec, target, ctx.now());
        if (valid.audience) {
          throw new PushfleetError(
            'PF_ERR_VALIDATION',
            'an uploaded campaign takes its audience from the body',
            {
              field: 'audience',
            },
          );
        }
        const fingerprint = `upload:${ndjson}:${JSON.stringify(spec)}`;
        return idempotent(ctx, request, reply, fingerprint, async (accept) => {
          let chunks = 0;
          const created = await ctx.producer.createCampaign(app, spec, tokensOf(first, lines, ndjson), {
            id: accept.id,
            now: ctx.now(),
            onChunk: async () => {
              if (++chunks % 20 === 0) await accept.keepAlive();
            },
            commit: (tx, c) => accept.stageAnswer(tx, { status: 202, body: c }),
          });
          return { status: 202, body: created };
        });
      },
    );
  });

  const read = async (app: string, id: string) => {
    appConfigOf(ctx, app);
    const status = await ctx.ledger.records.campaign(app, id, ctx.now());
    if (!status) throw new PushfleetError('PF_ERR_NOT_FOUND', 'no such campaign', { field: 'id' });
    return status;
  };

  api.get<{ Params: IdParams }>(
    '/v1/apps/:app/campaigns/:id',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['campaigns'],
        operationId: 'getCampaign',
        summary: 'Campaign status',
        description:
          'Progress and outcome counts; `total = delivered + rejected + failed + expired + cancelled` once done.',
        params: idParams,
        response: {
          200: jsonResponse('The campaign', campaignStatusSchema),
          ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND'),
        },
      },
    },
    async (request) => read(request.params.app, request.params.id),
  );

  api.get<{ Params: AppParams; Querystring: { limit?: string; before?: string } }>(
    '/v1/apps/:app/campaigns',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['campaigns'],
        operationId: 'listCampaigns',
        summary: 'List campaigns',
        description: 'Newest first, paged by creation time.',
        params: appParams,
        querystring: listQuery,
        response: {
          200: jsonResponse('A page of campaigns', campaignListSchema),
          ...errorResponses(...appRoute),
        },
      },
    },
    async (request) => {
      appConfigOf(ctx, request.params.app);
      const limit = Number(request.query.limit ?? 50);
      const before = request.query.before === undefined ? undefined : Number(request.query.before);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        throw new PushfleetError('PF_ERR_VALIDATION', 'limit is 1–500', { field: 'limit' });
      if (before !== undefined && !Number.isFinite(before))
        throw new PushfleetError('PF_ERR_VALIDATION', 'before is a creation time in ms', { field: 'before' });
      return ctx.ledger.records.campaigns(request.params.app, { limit, before }, ctx.now());
    },
  );

  api.delete<{ Params: IdParams }>(
    '/v1/apps/:app/campaigns/:id',
    {
      config: { permission: 'send' },
      schema: {
        tags: ['campaigns'],
        operationId: 'cancelCampaign',
        summary: 'Cancel a campaign',
        description:
          'Tokens not yet handed to a batch end `cancelled` at once (a scheduled or parked campaign is ' +
          'settled in the answer); batches already queued end `cancelled` when they run. Cancelling again ' +
          'is harmless; a finished campaign is 409.',
        params: idParams,
        response: {
          202: jsonResponse('Cancelled: its status', campaignStatusSchema),
          ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND', 'PF_ERR_CAMPAIGN_FINISHED'),
        },
      },
    },
    async (request, reply) => {
      const { app, id } = request.params;
      await read(app, id);
      const result = await ctx.ledger.records.cancel(app, id, ctx.now());
      if (result === 'finished') throw new PushfleetError('PF_ERR_CAMPAIGN_FINISHED');
      // A scheduled or parked fan-out's audience ends cancelled now; also on a repeated cancel,
      // so one that stopped half-way is finished by the next.
      if (result !== 'not-found') {
        await settleCancelled(ctx.ledger, ctx.producer.queues.appQueues(app), app, id, ctx.now());
      }
      return reply.status(202).send(await read(app, id));
    },
  );
}
