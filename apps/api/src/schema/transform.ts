import type { SwaggerTransform, SwaggerTransformObject } from '@fastify/swagger';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import './field-docs.ts';

/**
 * How a route's zod schemas become its OpenAPI operation. fastify-type-provider-zod converts
 * the schemas (`z.toJSONSchema`, named components by registry `id`); this adds what it does not
 * cover:
 *  - `security` and the permission, from the route's `config.permission` (what the auth hook
 *    enforces), so the document cannot disagree with it; routes without one say `security: []`;
 *  - bodies per content type (`body: { content: { <type>: { schema, doc? } } }`, streamed
 *    uploads document `doc`), and optional bodies (`schema.optional()`: `required: false`);
 *  - response `headers` of content-typed responses;
 * and `transformObject` keeps only the components operations use, naming each once.
 */

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI and Fastify route schemas are walked untyped
type Json = Record<string, any>;

const zodTransform = createJsonSchemaTransform({ skipList: [] });

const bodyOptional = 'x-body-optional';

export const transform: SwaggerTransform = (input) => {
  const { schema, route } = input as Json;
  if (!schema || schema.hide) return zodTransform(input);
  const { body, response, ...rest } = schema as Json;
  const permission: string | undefined = route?.config?.permission;
  const base = zodTransform({ ...input, schema: { ...rest, response } } as Parameters<SwaggerTransform>[0]);
  const out: Json = { ...(base.schema as Json) };
  const convert = (s: z.ZodType): Json => {
    const json = (
      zodTransform({ ...input, schema: { body: s } } as Parameters<SwaggerTransform>[0]).schema as Json
    ).body;
    // An optional body comes out as `{ allOf: [{ $ref }] }`: the reference is what it means.
    return Object.keys(json).length === 1 && json.allOf?.length === 1 ? json.allOf[0] : json;
  };
  if (body instanceof z.ZodType) {
    out.body = convert(body);
    if (body.safeParse(undefined).success) out[bodyOptional] = true;
  } else if (body?.content) {
    out.body = { content: {} };
    for (const [type, entry] of Object.entries<Json>(body.content)) {
      out.body.content[type] = { schema: convert(entry.doc ?? entry.schema) };
    }
  }
  for (const [status, res] of Object.entries<Json>(response ?? {})) {
    if (res?.content && res.headers) out.response[status].headers = res.headers;
  }
  out.security = permission ? [{ apiKey: [] }] : [];
  if (permission) {
    out['x-permission'] = permission;
    const grant = permission === 'admin' ? '`admin`' : `\`${permission}\` (or \`admin\`)`;
    const scope = String(route?.url ?? '').includes(':app') ? ', for the app in the path' : '';
    out.description = [out.description, `Permission: ${grant}${scope}.`].filter(Boolean).join('\n\n');
  }
  return { schema: out, url: base.url };
};

/** Component references anywhere below `node`. */
function refsIn(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) for (const v of node) refsIn(v, out);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.add(value.replace('#/components/schemas/', ''));
      else refsIn(value, out);
    }
  }
}

function renameRefs(node: unknown, names: Map<string, string>): void {
  if (Array.isArray(node)) for (const v of node) renameRefs(v, names);
  else if (node && typeof node === 'object') {
    const obj = node as Json;
    for (const [key, value] of Object.entries(obj)) {
      if (key === '$ref' && typeof value === 'string') {
        const name = value.replace('#/components/schemas/', '');
        if (names.has(name)) obj[key] = `#/components/schemas/${names.get(name)}`;
      } else renameRefs(value, names);
    }
  }
}

export const transformObject: SwaggerTransformObject = (input) => {
  const doc = jsonSchemaTransformObject(input) as Json;
  const all: Json = doc.components?.schemas ?? {};
  // The provider emits every registered schema twice (`X` as answered, `XInput` as sent): keep
  // what the operations reach, and call a request-only schema by its own name.
  const used = new Set<string>();
  refsIn(doc.paths, used);
  for (let grew = true; grew; ) {
    const before = used.size;
    for (const name of [...used]) refsIn(all[name], used);
    grew = used.size > before;
  }
  const names = new Map<string, string>();
  for (const name of used) {
    const plain = name.replace(/Input$/, '');
    const same = JSON.stringify(all[name]) === JSON.stringify(all[plain]);
    if (plain !== name && (!used.has(plain) || same)) names.set(name, plain);
  }
  const schemas: Json = {};
  for (const name of [...used].sort()) schemas[names.get(name) ?? name] ??= all[name];
  renameRefs(doc.paths, names);
  renameRefs(schemas, names);
  for (const ops of Object.values<Json>(doc.paths ?? {})) {
    for (const op of Object.values<Json>(ops)) {
      if (op[bodyOptional]) {
        op.requestBody.required = false;
        delete op[bodyOptional];
      }
    }
  }
  return { ...doc, components: { ...doc.components, schemas } };
};
