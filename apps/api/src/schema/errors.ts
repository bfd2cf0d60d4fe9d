import { type ErrorCode, errorCatalogue } from '@pushfleet/core';
import { z } from 'zod';
import { type HeaderDoc, type JsonResponse, jsonResponse } from './common.ts';

/**
 * Error answers, declared per route from the catalogue (packages/core/src/errors.ts): one
 * response per HTTP status, whose `code` enumerates exactly the `PF_ERR_` codes the route can
 * answer with that status. The groups below are the codes every route of a kind shares; a route
 * adds its own (`errorResponses(...appRoute, ...jsonBody, 'PF_ERR_EMPTY_TOKENS')`).
 */

/** Any request: malformed HTTP, oversized headers (both before routing), a bug. */
export const anyRequest = [
  'PF_ERR_BAD_REQUEST',
  'PF_ERR_HEADERS_TOO_LARGE',
  'PF_ERR_INTERNAL',
] as const satisfies readonly ErrorCode[];

/**
 * A route under `/v1/apps/:app` with a permission: the key (401, 403, 429, checked before the
 * body is read), the app (404), an over-long path parameter or bad query (400), Redis away (503).
 */
export const appRoute = [
  ...anyRequest,
  'PF_ERR_REDIS_UNAVAILABLE',
  'PF_ERR_UNAUTHORIZED',
  'PF_ERR_FORBIDDEN',
  'PF_ERR_RATE_LIMITED',
  'PF_ERR_UNKNOWN_APP',
  'PF_ERR_VALIDATION',
] as const satisfies readonly ErrorCode[];

/** A route that reads a JSON body. */
export const jsonBody = [
  'PF_ERR_INVALID_JSON',
  'PF_ERR_VALIDATION',
  'PF_ERR_BODY_TOO_LARGE',
  'PF_ERR_UNSUPPORTED_MEDIA_TYPE',
] as const satisfies readonly ErrorCode[];

/** A creating route that honours `Idempotency-Key`. */
export const idempotentCreate = [
  'PF_ERR_IDEMPOTENCY_IN_PROGRESS',
  'PF_ERR_IDEMPOTENCY_MISMATCH',
] as const satisfies readonly ErrorCode[];

const retryAfter: Record<string, HeaderDoc> = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' },
};

/** Example `field` values, so each status's example body reads like a real answer. */
const exampleFields: Partial<Record<ErrorCode, string>> = {
  PF_ERR_VALIDATION: 'notification.badge',
  PF_ERR_BAD_DEVICE_TOKEN: 'tokens.0',
  PF_ERR_UNKNOWN_APP: 'app',
  PF_ERR_NOT_FOUND: 'id',
  PF_ERR_EMPTY_TOKENS: 'tokens',
  PF_ERR_IDEMPOTENCY_MISMATCH: 'Idempotency-Key',
};

/** The error responses of a route: `{ <status>: <schema of its codes> }`, for `schema.response`. */
export function errorResponses(...codes: ErrorCode[]): Record<number, JsonResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, JsonResponse> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    list.sort();
    const first = list.includes('PF_ERR_VALIDATION') ? 'PF_ERR_VALIDATION' : list[0]!;
    const field = exampleFields[first];
    const schema = z
      .object({
        code: z.enum(list as [ErrorCode, ...ErrorCode[]]).describe('Stable error code'),
        message: z.string().describe('What went wrong, for people (may change; match on `code`)'),
        field: z
          .string()
          .optional()
          .describe('The offending field, header or parameter (`tokens.3`, `line.12`, `Idempotency-Key`)'),
      })
      .meta({
        example: { code: first, message: errorCatalogue[first].message, ...(field ? { field } : {}) },
      });
    const description = list.map((code) => `\`${code}\`: ${errorCatalogue[code].message}`).join('; ');
    out[status] = jsonResponse(description, schema, status === 429 ? retryAfter : undefined);
  }
  return out;
}
