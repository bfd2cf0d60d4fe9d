import { Readable } from 'node:stream';
import { environments } from '@pushfleet/core';
import { z } from 'zod';

/** A 32-byte device token as the examples show it. */
export const exampleToken = '5f2e9a0c7b1d4e8f3a6c9b2d5e8f1a4c7b0d3e6f9a2c5b8e1d4f7a0c3b6e9d2f';

const app = z.string().describe('The app id, as configured under `apps.<id>`').meta({ example: 'shop' });

export const appParams = z.object({ app });
export const idParams = z.object({
  app,
  id: z
    .string()
    .describe('The id the create request answered (`id` or `campaignId`)')
    .meta({ example: '0b6f0a4e-5c43-4f4e-9d57-2f1f4f4b7c11' }),
});
export const tokenParams = z.object({
  app,
  // Checked by the handler, which answers a bad token with PF_ERR_BAD_DEVICE_TOKEN (not
  // PF_ERR_VALIDATION): the pattern is documented here, not enforced.
  token: z
    .string()
    .describe(
      'Device token: even-length hex of 8–100 bytes, any case (a bad one is `PF_ERR_BAD_DEVICE_TOKEN`)',
    )
    .meta({ pattern: '^(?:[0-9a-fA-F]{2}){8,100}$', example: exampleToken }),
});

export const environmentQuery = z.object({
  environment: z
    .enum(environments)
    .optional()
    .describe('The registration’s environment; default: the app’s first configured one'),
});

export const idempotencyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .min(1, 'Idempotency-Key is 1–255 characters')
    .max(255, 'Idempotency-Key is 1–255 characters')
    .optional()
    .describe(
      'Any string: a repeat with the same key (per API key, app and route) within 24 h gets the first ' +
        'answer and enqueues nothing twice (`Idempotent-Replayed: true`); a concurrent repeat is 409, ' +
        'the key reused for a different request 422. A request that failed frees its key.',
    )
    .meta({ example: 'order-42-shipped' }),
});

/** The `Idempotent-Replayed` header of a create answer given again for a repeated key. */
export const replayedHeader: Record<string, HeaderDoc> = {
  'Idempotent-Replayed': {
    type: 'string',
    enum: ['true'],
    description: 'Present when this is the stored answer to an earlier request with the same key',
  },
};

/**
 * A body a route reads as a stream (its content-type parser hands over the raw request): Fastify
 * checks only that it is one; the handler parses it line by line in constant memory. `doc` is
 * what the OpenAPI document shows for it (each line's schema, or the text with an example).
 */
export function streamedBody(doc: z.ZodType): { schema: z.ZodType; doc: z.ZodType } {
  return { schema: z.instanceof(Readable), doc };
}

/** A response header as the document shows it. */
export interface HeaderDoc {
  type: 'string' | 'integer';
  description: string;
  enum?: string[];
}

/** A documented answer: its description, its body's schema by content type, its headers. */
export interface JsonResponse {
  description: string;
  content: Record<string, { schema: z.ZodType }>;
  headers?: Record<string, HeaderDoc>;
}

/** A JSON answer for `schema.response`. */
export function jsonResponse(
  description: string,
  schema: z.ZodType,
  headers?: Record<string, HeaderDoc>,
): JsonResponse {
  return { description, content: { 'application/json': { schema } }, ...(headers ? { headers } : {}) };
}
