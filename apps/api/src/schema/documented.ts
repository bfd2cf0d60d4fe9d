import { z } from 'zod';

/**
 * Descriptions and examples for schemas owned elsewhere (the store's, the config's), applied to
 * copies: `documented` clones each schema it describes — checks, strictness and defaults kept — so
 * the originals stay untouched (docs/configuration.md, generated from the config's schemas in the
 * same process, never picks these texts up). Fields named here that a schema does not have are
 * listed in `unknownAppFields`, which apps/api/tests/openapi.test.ts requires to be empty.
 */
export type Doc =
  | string
  | {
      description?: string;
      example?: unknown;
      id?: string;
      fields?: Record<string, Doc>;
      options?: Doc[];
    };

/** Field names given here that a schema does not have (a renamed field): the openapi test lists them. */
export const unknownAppFields: string[] = [];

// biome-ignore lint/suspicious/noExplicitAny: zod's internal defs are walked untyped
type Def = Record<string, any>;

/** A copy of `schema` with `doc` applied to it and to the fields and union options it names. */
export function documented<T extends z.ZodType>(schema: T, doc: Doc, where: string): T {
  const d = typeof doc === 'string' ? { description: doc } : doc;
  const def = schema._zod.def as Def;
  let out: z.ZodType = schema;
  const inner = { fields: d.fields, options: d.options };
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable
  ) {
    if (d.fields || d.options)
      out = schema.clone({ ...def, innerType: documented(def.innerType, inner, where) } as never);
  } else if (schema instanceof z.ZodObject && d.fields) {
    const shape = { ...(def.shape as Record<string, z.ZodType>) };
    for (const [name, fieldDoc] of Object.entries(d.fields)) {
      const field = shape[name];
      if (field) shape[name] = documented(field, fieldDoc, `${where}.${name}`);
      else unknownAppFields.push(`${where}.${name}`);
    }
    out = schema.clone({ ...def, shape } as never);
  } else if (schema instanceof z.ZodUnion && d.options) {
    const options = (def.options as z.ZodType[]).map((option, i) =>
      d.options![i] ? documented(option, d.options![i]!, `${where}|${i}`) : option,
    );
    out = schema.clone({ ...def, options } as never);
  }
  const meta = Object.fromEntries(
    Object.entries({ id: d.id, description: d.description, example: d.example }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return (Object.keys(meta).length > 0 ? out.meta(meta) : out) as T;
}
