import { fieldOf, PushfleetError } from '@pushfleet/core';
import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';

/**
 * Fastify validates each request part a route declares (params, querystring, headers, JSON
 * body) with its zod schema, before the handler runs. A failure is the catalogue's
 * `PF_ERR_VALIDATION` naming the first issue's path as `field` — what `parseOrThrow` gives for
 * the same schema, so a route that moved its checks here answers exactly as before.
 *
 * Validation is a gate: the handler still gets the request as it was sent (fastify-type-provider-
 * zod's own compiler would swap in the parsed output): idempotency fingerprints the body as sent,
 * and handlers parse again where they need the output (defaults, coercions). `ZodInputProvider`
 * types the parts accordingly (the schemas' input types).
 * Headers are checked against a view of just the headers the schema names, as documented
 * (`Idempotency-Key`; Node gives them lower-cased). Fastify hands an absent body over as `null`:
 * it is parsed as `undefined`, so an optional body (`schema.optional()`) may be left out.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, method, url, httpPart }) => {
  if (!(schema instanceof z.ZodType)) {
    throw new Error(`${method} ${url}: the ${httpPart} schema must be a zod schema`);
  }
  const names = httpPart === 'headers' ? headerNames(schema) : null;
  return (data) => {
    let input = data;
    if (names) {
      const headers = (data ?? {}) as Record<string, unknown>;
      input = Object.fromEntries(names.map((name) => [name, headers[name.toLowerCase()]]));
    } else if (httpPart === 'body' && data === null) input = undefined;
    const parsed = schema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return {
        error: new PushfleetError('PF_ERR_VALIDATION', issue.message, { field: fieldOf(issue.path) }),
      };
    }
    return true;
  };
};

function headerNames(schema: z.ZodType): string[] {
  if (!(schema instanceof z.ZodObject)) throw new Error('a headers schema must be a z.object');
  return Object.keys(schema.shape);
}

/**
 * Answers are serialized as they are (`JSON.stringify`, what Fastify does without a schema): the
 * response schemas document and type them, and tests check real answers against them, but they
 * never filter or reject what a handler sends.
 */
export const serializerCompiler: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);

/**
 * Types a route's request parts from its zod schemas: the input types, since handlers get the
 * request as sent (`api.withTypeProvider<ZodInputProvider>()`).
 */
export interface ZodInputProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}
