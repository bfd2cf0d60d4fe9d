import { type FeedbackItem, PushfleetError } from '@pushfleet/core';
import { storeKeys } from '@pushfleet/store';
import type { FastifyInstance } from 'fastify';
import { type AppParams, appConfigOf, type RouteContext } from '../context.ts';

/** Stream entries read per request at most: other apps' entries are skipped, bounded work. */
const maxScan = 10_000;

function startOf(since: string | undefined): string {
  if (since === undefined || since === '') return '-';
  if (/^\d+-\d+$/.test(since)) return `(${since}`;
  if (/^\d{1,15}$/.test(since)) return `${Number(since) + 1}-0`;
  throw new PushfleetError('PF_ERR_VALIDATION', 'since is a feed id (1700000000000-0) or ms timestamp', {
    field: 'since',
  });
}

/**
 * The feedback feed: tokens APNs invalidated, oldest first, cursor-paged by stream id — the
 * modern form of APNs' feedback service, so producers can clean their own databases.
 */
export function registerFeedbackRoutes(api: FastifyInstance, ctx: RouteContext): void {
  api.get<{ Params: AppParams; Querystring: { since?: string; limit?: string } }>(
    '/v1/apps/:app/feedback',
    { config: { permission: 'read' } },
    async (request) => {
      const { app } = request.params;
      appConfigOf(ctx, app);
      const limit = Number(request.query.limit ?? 1000);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new PushfleetError('PF_ERR_VALIDATION', 'limit is 1–10000', { field: 'limit' });
      let start = startOf(request.query.since);
      const items: FeedbackItem[] = [];
      let next: string | null = request.query.since ?? null;
      let scanned = 0;
      while (items.length < limit && scanned < maxScan) {
        const entries = await ctx.redis.xrange(
          storeKeys.feedbackStream(ctx.prefix),
          start,
          '+',
          'COUNT',
          1000,
        );
        if (entries.length === 0) break;
        for (const [id, flat] of entries) {
          scanned++;
          next = id;
          const fields: Record<string, string> = {};
          for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
          if (fields.app === app) {
            items.push({
              id,
              token: fields.token ?? '',
              environment: fields.environment ?? '',
              reason: fields.reason ?? '',
              timestamp: new Date(Number(fields.timestamp ?? 0)).toISOString(),
            });
            if (items.length >= limit) break;
          }
        }
        start = `(${next}`;
      }
      return { items, next };
    },
  );
}
