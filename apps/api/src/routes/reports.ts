import { Readable } from 'node:stream';
import { PushfleetError } from '@pushfleet/core';
import type { ReportLine } from '@pushfleet/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type AppParams, appConfigOf, type RouteContext } from '../context.ts';
import { exampleToken, idParams } from '../schema/common.ts';
import { appRoute, errorResponses } from '../schema/errors.ts';
import { reportLineSchema } from '../schema/responses.ts';

type IdParams = AppParams & { id: string };
type Format = 'ndjson' | 'csv';

/** `?format=csv|ndjson`, else the Accept header (text/csv), else NDJSON. */
function formatOf(request: FastifyRequest<{ Querystring: { format?: string } }>): Format {
  const asked = request.query.format;
  if (asked !== undefined) {
    if (asked !== 'csv' && asked !== 'ndjson')
      throw new PushfleetError('PF_ERR_VALIDATION', 'format is csv or ndjson', { field: 'format' });
    return asked;
  }
  return (request.headers.accept ?? '').includes('text/csv') ? 'csv' : 'ndjson';
}

const reportQuery = z.object({
  format: z
    .enum(['ndjson', 'csv'], 'format is csv or ndjson')
    .optional()
    .describe('`ndjson` or `csv`; default: `csv` when `Accept` names text/csv, else NDJSON'),
});

const reportResponse = {
  description:
    'Every token that did not end delivered, streamed (`Content-Disposition: attachment`). Complete once the ' +
    'state is final; tokens still in flight come later.',
  content: {
    'application/x-ndjson': { schema: reportLineSchema },
    'text/csv': {
      schema: z
        .string()
        .describe('A header line `token,outcome,reason,time`, then one line per token')
        .meta({
          example: `token,outcome,reason,time\n${exampleToken},rejected,BadDeviceToken,2026-05-01T09:30:01.250Z\n`,
        }),
    },
  },
  headers: {
    'Content-Disposition': {
      type: 'string' as const,
      description: 'attachment; filename="<id>-report.<format>"',
    },
  },
};

async function* render(pages: AsyncGenerator<ReportLine[]>, format: Format): AsyncGenerator<string> {
  if (format === 'csv') yield 'token,outcome,reason,time\n';
  for await (const lines of pages) {
    let chunk = '';
    for (const line of lines) {
      const time = new Date(line.at).toISOString();
      // Tokens are hex and reasons APNs' identifiers: nothing here needs CSV quoting.
      chunk +=
        format === 'csv'
          ? `${line.token},${line.outcome},${line.reason},${time}\n`
          : `${JSON.stringify({ token: line.token, outcome: line.outcome, reason: line.reason, time })}\n`;
    }
    yield chunk;
  }
}

/**
 * `GET …/notifications/:id/report` and `…/campaigns/:id/report`: every token that did not end
 * delivered, with its outcome, reason and time, streamed (constant memory for any size) as
 * NDJSON or CSV. Complete once the record's state is final; tokens still in flight come later.
 */
export function registerReportRoutes(api: FastifyInstance, ctx: RouteContext): void {
  for (const kind of ['notifications', 'campaigns'] as const) {
    api.get<{ Params: IdParams; Querystring: { format?: string } }>(
      `/v1/apps/:app/${kind}/:id/report`,
      {
        config: { permission: 'read' },
        schema: {
          tags: ['reports'],
          operationId: kind === 'campaigns' ? 'campaignReport' : 'notificationReport',
          summary: `${kind === 'campaigns' ? 'Campaign' : 'Notification'} report`,
          description:
            'Each token that ended rejected, failed, expired or cancelled, with the reason and time, as NDJSON ' +
            'or CSV (`?format=` or `Accept: text/csv`); constant memory for any size.',
          params: idParams,
          querystring: reportQuery,
          response: { 200: reportResponse, ...errorResponses(...appRoute, 'PF_ERR_NOT_FOUND') },
        },
      },
      async (request, reply) => {
        const { app, id } = request.params;
        appConfigOf(ctx, app);
        const format = formatOf(request);
        const pages = await ctx.ledger.records.report(app, id);
        if (!pages)
          throw new PushfleetError('PF_ERR_NOT_FOUND', `no such ${kind.slice(0, -1)}`, { field: 'id' });
        return reply
          .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
          .header('content-disposition', `attachment; filename="${id}-report.${format}"`)
          .send(Readable.from(render(pages, format)));
      },
    );
  }
}
