import { PushfleetError } from '@pushfleet/core';
import { FeedbackFeed } from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, type RouteContext } from '../context.ts';
import { appParams, jsonResponse } from '../schema/common.ts';
import { appRoute, errorResponses } from '../schema/errors.ts';
import { feedbackPageSchema } from '../schema/responses.ts';

/** Redis stream ids' largest sequence number: `<ms>-<this>` is the last id of that millisecond. */
const lastSequence = '18446744073709551615';

/** `since` as the feed id to read after: a feed id itself, or a ms time (everything after it). */
function afterOf(since: string | undefined): string | null {
  if (since === undefined || since === '') return null;
  if (/^\d+-\d+$/.test(since)) return since;
  if (/^\d{1,15}$/.test(since)) return `${since}-${lastSequence}`;
  throw new PushfleetError('PF_ERR_VALIDATION', 'since is a feed id (1700000000000-0) or ms timestamp', {
    field: 'since',
  });
}

const feedbackQuery = z.object({
  since: z
    .string()
    .optional()
    .describe('Continue after this feed id (`next` of the previous page), or after this ms timestamp')
    .meta({ example: '1700000000000-0' }),
  limit: z.coerce
    .number()
    .int('limit is 1–10000')
    .min(1, 'limit is 1–10000')
    .max(10_000, 'limit is 1–10000')
    .optional()
    .describe('Items per page, 1–10000 (default 1000)'),
});

/**
 * The feedback feed: tokens the feedback service retired (`purged`) or found unregistered here
 * (`unknown`), oldest first, cursor-paged by feed id — the modern form of APNs' feedback service,
 * so producers can clean their own databases. Filled by the scheduler's feedback poll.
 */
export function registerFeedbackRoutes(api: FastifyInstance, ctx: RouteContext): void {
  const feed = new FeedbackFeed(ctx.redis, ctx.prefix);
  api.get<{ Params: AppParams; Querystring: { since?: string; limit?: string } }>(
    '/v1/apps/:app/feedback',
    {
      config: { permission: 'read' },
      schema: {
        tags: ['feedback'],
        operationId: 'feedback',
        summary: 'Invalidated tokens',
        description:
          'Tokens the feedback service retired (`purged`) or found unregistered here (`unknown`), with the ' +
          'reason and time APNs gave, oldest first. Pass `next` as `since` to continue.',
        params: appParams,
        querystring: feedbackQuery,
        response: {
          200: jsonResponse('A page of the feed', feedbackPageSchema),
          ...errorResponses(...appRoute),
        },
      },
    },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const limit = Number(request.query.limit ?? 1000);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new PushfleetError('PF_ERR_VALIDATION', 'limit is 1–10000', { field: 'limit' });
      const after = afterOf(request.query.since);
      const items = await feed.read(app, after, limit);
      return { items, next: items.at(-1)?.id ?? after };
    },
  );
}
