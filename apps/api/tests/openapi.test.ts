import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { configSchema } from '@pushfleet/config';
import { errorCatalogue } from '@pushfleet/core';
import { createRedis } from '@pushfleet/queue';
import { feedbackKeys } from '@pushfleet/store';
import { createApiMetrics, createLogger } from '@pushfleet/telemetry';
import { generateProviderKey, type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { z } from 'zod';
import { hashApiKeySha256 } from '../src/auth.ts';
import { buildOpenApi } from '../src/openapi.ts';
import { unknownAppFields } from '../src/schema/apps.ts';
import { unknownDocumentedFields } from '../src/schema/field-docs.ts';
import { buildApi } from '../src/server.ts';
import { fakeChannelClients } from './fake-channels.ts';
import { demoApp, token } from './helpers.ts';

/**
 * The OpenAPI document: valid (an independent validator), complete (every route, every field
 * described, error codes and security per operation), and true (every answer the api gives to a
 * battery of requests — successes and each error it can provoke — is documented for its route,
 * status and code, and parses with the very schema documented, with no undocumented field).
 */

// biome-ignore lint/suspicious/noExplicitAny: OpenAPI documents are walked untyped
type Json = Record<string, any>;

const keys = { admin: 'k-admin-0123456789', reader: 'k-reader-0123456789' };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

interface Seen {
  method: string;
  route: string;
  status: number;
  type: string;
  payload: unknown;
}

const prefix = `test-${randomUUID()}`;
let server: StartedRedis;
let redis: Redis;
let api: FastifyInstance;
let doc: Json;
const routes: { method: string; url: string; hidden: boolean; permission?: string; schema?: Json }[] = [];
const seen: Seen[] = [];

before(async () => {
  server = await startRedis();
  const config = configSchema.parse({
    redis: { url: server.url, prefix },
    apps: { demo: demoApp },
    api: {
      keys: [
        { id: 'admin', hash: hashApiKeySha256(keys.admin), apps: ['*'], permissions: ['admin'] },
        { id: 'reader', hash: hashApiKeySha256(keys.reader), apps: ['demo'], permissions: ['read'] },
      ],
    },
  });
  redis = createRedis(server.url, 'producer');
  await redis.connect();
  const registry = new Registry();
  api = buildApi({
    config,
    redis,
    metrics: createApiMetrics(registry),
    registry,
    log: createLogger({ name: 'openapi-test', level: 'silent' }),
    ready: async () => true,
    kek: randomBytes(32),
    channelClients: fakeChannelClients(),
  });
  // Before ready: the routes are added when the plugins load, so these hooks see every one.
  api.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        hidden: Boolean((route.schema as Json | undefined)?.hide),
        permission: route.config?.permission,
        schema: route.schema as Json | undefined,
      });
    }
  });
  api.addHook('onSend', async (request, reply, payload) => {
    const route = request.routeOptions.url;
    if (route && !route.startsWith('/docs')) {
      seen.push({
        method: request.method,
        route,
        status: reply.statusCode,
        type: String(reply.getHeader('content-type') ?? ''),
        payload: typeof payload === 'string' ? payload : null,
      });
    }
    return payload;
  });
  await api.ready();
  doc = (await api.inject({ method: 'GET', url: '/docs/json' })).json();
});

after(async () => {
  await api.close();
  redis.disconnect();
  await server.stop();
});

/** The codes of the API's first contract (README "Error codes"), all answered by today's routes. */
const contractCodes = [
  'PF_ERR_INVALID_JSON',
  'PF_ERR_VALIDATION',
  'PF_ERR_EMPTY_TOKENS',
  'PF_ERR_TOO_MANY_TOKENS',
  'PF_ERR_BAD_DEVICE_TOKEN',
  'PF_ERR_PAYLOAD_TOO_LARGE',
  'PF_ERR_ENVIRONMENT_NOT_ENABLED',
  'PF_ERR_BODY_TOO_LARGE',
  'PF_ERR_UNSUPPORTED_MEDIA_TYPE',
  'PF_ERR_UNKNOWN_APP',
  'PF_ERR_NOT_FOUND',
  'PF_ERR_REDIS_UNAVAILABLE',
  'PF_ERR_INTERNAL',
  'PF_ERR_UNAUTHORIZED',
  'PF_ERR_FORBIDDEN',
  'PF_ERR_RATE_LIMITED',
  'PF_ERR_IDEMPOTENCY_IN_PROGRESS',
  'PF_ERR_IDEMPOTENCY_MISMATCH',
  'PF_ERR_EMPTY_AUDIENCE',
  'PF_ERR_CAMPAIGN_FINISHED',
  'PF_ERR_HEADERS_TOO_LARGE',
  'PF_ERR_BAD_REQUEST',
  // The admin API (/v1/apps) and apps managed at run time.
  'PF_ERR_APP_READ_ONLY',
  'PF_ERR_APP_HAS_WORK',
  'PF_ERR_APP_DISABLED',
  'PF_ERR_BAD_CREDENTIALS',
  'PF_ERR_ENCRYPTION_KEY_MISSING',
];

const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');
const operations = () =>
  Object.entries<Json>(doc.paths).flatMap(([path, ops]) =>
    Object.entries<Json>(ops).map(([method, op]) => ({ path, method, op })),
  );

test('the served document is the one buildOpenApi() generates (docs/api.md is made from it)', async () => {
  assert.deepEqual(doc, await buildOpenApi());
  assert.equal(doc.openapi, '3.0.3');
});

test('an independent validator (@apidevtools/swagger-parser) accepts the document', async () => {
  // validate() dereferences in place: give it a copy.
  const checked = (await SwaggerParser.validate(structuredClone(doc) as never)) as Json;
  assert.equal(checked.info.title, 'Pushfleet API');
});

test('every route is documented, and nothing else', () => {
  const visible = routes.filter((r) => !r.hidden);
  assert.ok(visible.length >= 17, `only ${visible.length} routes`);
  const expected = visible.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`).sort();
  const documented = operations()
    .map(({ path, method }) => `${method} ${path}`)
    .sort();
  assert.deepEqual(documented, expected);
  for (const r of routes.filter((r) => r.hidden)) assert.match(r.url, /^\/docs/, `${r.url} is hidden`);
});

/** What is missing from a document's operations and components; empty when complete. */
function problems(d: Json): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  const schemaProblems = (schema: Json | undefined, where: string, depth = 0, variant = false): void => {
    if (!schema || depth > 8) return;
    if (Object.keys(schema).length === 0) out.push(`${where}: empty schema {}`);
    if (schema.type === 'array' && (!schema.items || Object.keys(schema.items).length === 0))
      out.push(`${where}: array items are {}`);
    for (const [name, prop] of Object.entries<Json>(schema.properties ?? {})) {
      // Fields of a union's object variants are described by the union's own description.
      if (!prop.description && !prop.$ref && !variant) out.push(`${where}.${name}: no description`);
      schemaProblems(prop, `${where}.${name}`, depth + 1, variant);
    }
    if (schema.items) schemaProblems(schema.items, `${where}[]`, depth + 1, variant);
    for (const [i, option] of (schema.anyOf ?? schema.oneOf ?? []).entries())
      schemaProblems(option, `${where}|${i}`, depth + 1, true);
  };
  for (const [name, schema] of Object.entries<Json>(d.components?.schemas ?? {}))
    schemaProblems(schema, name);
  for (const [path, ops] of Object.entries<Json>(d.paths ?? {})) {
    for (const [method, op] of Object.entries<Json>(ops)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.operationId) out.push(`${where}: no operationId`);
      else if (ids.has(op.operationId)) out.push(`${where}: operationId ${op.operationId} twice`);
      ids.add(op.operationId);
      if (!op.summary) out.push(`${where}: no summary`);
      if (!op.tags?.length) out.push(`${where}: no tag`);
      if (!Array.isArray(op.security)) out.push(`${where}: security not stated`);
      const secured = op.security?.some((s: Json) => 'apiKey' in s);
      if (path.startsWith('/v1/') && !secured) out.push(`${where}: no bearer security`);
      if (secured && !op['x-permission']) out.push(`${where}: no x-permission`);
      for (const p of op.parameters ?? []) {
        if (!p.description) out.push(`${where} ${p.in} ${p.name}: no description`);
        if (p.in === 'path' && p.schema?.example === undefined) out.push(`${where} ${p.name}: no example`);
        schemaProblems(p.schema, `${where} ${p.name}`);
      }
      for (const [type, media] of Object.entries<Json>(op.requestBody?.content ?? {})) {
        const schema = media.schema?.$ref
          ? d.components.schemas[media.schema.$ref.split('/').pop()]
          : media.schema;
        if (schema?.example === undefined) out.push(`${where} ${type}: no example body`);
        if (!media.schema?.$ref) schemaProblems(media.schema, `${where} ${type}`);
      }
      const statuses = Object.keys(op.responses ?? {});
      if (!statuses.some((s) => s.startsWith('2'))) out.push(`${where}: no success response`);
      if (!statuses.includes('500')) out.push(`${where}: no 500`);
      if (secured)
        for (const s of ['401', '403', '429']) if (!statuses.includes(s)) out.push(`${where}: no ${s}`);
      for (const [status, res] of Object.entries<Json>(op.responses ?? {})) {
        if (!res.description) out.push(`${where} ${status}: no description`);
        // Errors under /v1 are catalogue bodies; /readyz's 503 is its own `{ status }`.
        if (
          Number(status) < 400 ||
          (!path.startsWith('/v1/') && !res.content?.['application/json']?.schema?.properties?.code)
        )
          continue;
        const codes: string[] = res.content?.['application/json']?.schema?.properties?.code?.enum ?? [];
        if (codes.length === 0) out.push(`${where} ${status}: no error codes`);
        for (const code of codes) {
          const entry = errorCatalogue[code as keyof typeof errorCatalogue];
          if (entry?.status !== Number(status)) out.push(`${where} ${status}: ${code} is not a ${status}`);
        }
      }
    }
  }
  return out;
}

test('complete: operations (ids, summaries, security, errors by code) and every field described', () => {
  assert.deepEqual(problems(doc), []);
  assert.deepEqual(unknownDocumentedFields, [], 'field-docs.ts names fields the schemas no longer have');
  assert.deepEqual(unknownAppFields, [], 'schema/apps.ts names fields the registry schemas no longer have');
  // Token lists are z.unknown() items (the handler answers PF_ERR_BAD_DEVICE_TOKEN): documented anyway.
  const tokens = doc.components.schemas.SendRequest.properties.tokens;
  assert.equal(tokens.items.type, 'string');
  assert.match(tokens.items.pattern, /0-9a-fA-F/);
  // Every code the routes answer is documented on some operation (PF_ERR_CONFIG is a start-up error).
  const documented = new Set(
    operations().flatMap(({ op }) =>
      Object.values<Json>(op.responses).flatMap(
        (res) => res.content?.['application/json']?.schema?.properties?.code?.enum ?? [],
      ),
    ),
  );
  assert.deepEqual(
    contractCodes.filter((code) => !documented.has(code)),
    [],
  );
});

test('the completeness check reports what a document lacks', () => {
  const broken = structuredClone(doc);
  const send = broken.paths['/v1/apps/{app}/notifications'].post;
  delete send.security;
  delete send.responses['401'];
  send.responses['400'].content['application/json'].schema.properties.code.enum.push('PF_ERR_UNKNOWN_APP');
  delete broken.components.schemas.Notification.properties.badge.description;
  broken.components.schemas.SendRequest.properties.tokens.items = {};
  delete broken.paths['/v1/apps/{app}/feedback'].get.operationId;
  assert.deepEqual(problems(broken).sort(), [
    'GET /v1/apps/{app}/feedback: no operationId',
    'Notification.badge: no description',
    'POST /v1/apps/{app}/notifications 400: PF_ERR_UNKNOWN_APP is not a 400',
    'POST /v1/apps/{app}/notifications: no bearer security',
    'POST /v1/apps/{app}/notifications: security not stated',
    'SendRequest.tokens: array items are {}',
    'SendRequest.tokens[]: empty schema {}',
  ]);
});

const send = (options: InjectOptions & { key?: string | null }) => {
  const { key = keys.admin, ...rest } = options;
  return api.inject({ ...rest, headers: { ...(key ? auth(key) : {}), ...rest.headers } } as InjectOptions);
};
const json = { 'content-type': 'application/json' };
const ndjson = { 'content-type': 'application/x-ndjson' };

/** Requests that reach every route, and provoke each error a route answers that a test can cause. */
async function battery(): Promise<Map<string, { status: number; code?: string; field?: string }>> {
  const results = new Map<string, { status: number; code?: string; field?: string }>();
  const run = async (name: string, options: InjectOptions & { key?: string | null }) => {
    const res = await send(options);
    const body = res.headers['content-type']?.includes('json') && res.body ? res.json() : {};
    results.set(name, { status: res.statusCode, code: body.code, field: body.field });
    return res;
  };
  const n = '/v1/apps/demo/notifications';
  const sent = await run('send', {
    method: 'POST',
    url: n,
    headers: { ...json, 'idempotency-key': 'k1' },
    payload: { tokens: [token(1)], notification: { alert: 'hi' } },
  });
  const id = sent.json().id as string;
  await run('send replayed', {
    method: 'POST',
    url: n,
    headers: { ...json, 'idempotency-key': 'k1' },
    payload: { tokens: [token(1)], notification: { alert: 'hi' } },
  });
  await run('send key reused', {
    method: 'POST',
    url: n,
    headers: { ...json, 'idempotency-key': 'k1' },
    payload: { tokens: [token(2)], notification: {} },
  });
  await run('send key too long', {
    method: 'POST',
    url: n,
    headers: { ...json, 'idempotency-key': 'k'.repeat(256) },
    payload: { tokens: [token(2)], notification: {} },
  });
  await run('send by user', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { userIds: ['nobody'], notification: {} },
  });
  await run('send bad token', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { tokens: ['zz'], notification: {} },
  });
  await run('send bad badge', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { tokens: [token(1)], notification: { badge: 'one' } },
  });
  await run('send no tokens', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { tokens: [], notification: {} },
  });
  await run('send production', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { tokens: [token(1)], notification: {}, environment: 'production' },
  });
  await run('send too large', {
    method: 'POST',
    url: n,
    headers: json,
    payload: { tokens: [token(1)], notification: { alert: 'x'.repeat(5000) } },
  });
  await run('send bad json', { method: 'POST', url: n, headers: json, payload: '{"tokens": [' });
  await run('send xml', { method: 'POST', url: n, headers: { 'content-type': 'text/xml' }, payload: '<x/>' });
  await run('send unknown app', {
    method: 'POST',
    url: '/v1/apps/nope/notifications',
    headers: json,
    payload: { tokens: [token(1)], notification: {} },
  });
  await run('send without key', { method: 'POST', url: n, key: null, headers: json, payload: {} });
  await run('send as reader', { method: 'POST', url: n, key: keys.reader, headers: json, payload: {} });
  await run('notification', { method: 'GET', url: `${n}/${id}` });
  await run('notification unknown', { method: 'GET', url: `${n}/nope` });
  await run('notification report', { method: 'GET', url: `${n}/${id}/report` });
  await run('notification report csv', { method: 'GET', url: `${n}/${id}/report?format=csv` });
  await run('notification report bad format', { method: 'GET', url: `${n}/${id}/report?format=xml` });
  await run('cancel notification', { method: 'DELETE', url: `${n}/${id}` });

  const c = '/v1/apps/demo/campaigns';
  const spec = { notification: { alert: 'sale' } };
  const inline = await run('campaign json', {
    method: 'POST',
    url: c,
    headers: json,
    payload: { ...spec, audience: { kind: 'tokens', tokens: [token(3), token(4)] } },
  });
  await run('campaign empty', {
    method: 'POST',
    url: c,
    headers: json,
    payload: { ...spec, audience: { kind: 'tokens', tokens: [] } },
  });
  await run('campaign registry', {
    method: 'POST',
    url: c,
    headers: json,
    payload: { ...spec, audience: { kind: 'all' } },
  });
  await run('campaign ndjson', {
    method: 'POST',
    url: c,
    headers: ndjson,
    payload: `${JSON.stringify(spec)}\n"${token(5)}"\n`,
  });
  await run('campaign ndjson bad line', {
    method: 'POST',
    url: c,
    headers: ndjson,
    payload: `${JSON.stringify(spec)}\n"zz"\n`,
  });
  await run('campaign text', {
    method: 'POST',
    url: c,
    headers: { 'content-type': 'text/plain', 'pushfleet-campaign': JSON.stringify(spec) },
    payload: `${token(6)}\n`,
  });
  await run('campaigns', { method: 'GET', url: `${c}?limit=2` });
  await run('campaigns bad limit', { method: 'GET', url: `${c}?limit=0` });
  const campaignId = inline.json().campaignId as string;
  await run('campaign', { method: 'GET', url: `${c}/${campaignId}` });
  await run('campaign report', {
    method: 'GET',
    url: `${c}/${campaignId}/report`,
    headers: { accept: 'text/csv' },
  });
  await run('cancel campaign', { method: 'DELETE', url: `${c}/${campaignId}` });

  const d = `/v1/apps/demo/devices/${token(7)}`;
  await run('register', { method: 'PUT', url: d, headers: json, payload: { userId: 'u1', tags: ['vip'] } });
  await run('register no body', { method: 'PUT', url: `/v1/apps/demo/devices/${token(8)}` });
  await run('register bad token', {
    method: 'PUT',
    url: '/v1/apps/demo/devices/xyz',
    headers: json,
    payload: {},
  });
  await run('register bad tags', { method: 'PUT', url: d, headers: json, payload: { tags: 'vip' } });
  await run('device', { method: 'GET', url: d });
  await run('device bad environment', { method: 'GET', url: `${d}?environment=moon` });
  await run('unregister', { method: 'DELETE', url: d });
  await run('device gone', { method: 'GET', url: d });
  await run('import ndjson', {
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    headers: ndjson,
    payload: `${JSON.stringify({ token: token(9), tags: ['a'] })}\n`,
  });
  await run('import json', {
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    headers: json,
    payload: { devices: [{ token: token(10) }] },
  });
  await run('import bad line', {
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    headers: json,
    payload: { devices: [{ token: token(10), tags: 5 }] },
  });
  await redis.xadd(
    feedbackKeys.feed(prefix, 'demo'),
    '*',
    ...['token', token(11), 'environment', 'sandbox'],
    ...['reason', 'Unregistered', 'timestamp', '1700000000000', 'action', 'purged'],
  );
  await run('feedback', { method: 'GET', url: '/v1/apps/demo/feedback?limit=10' });
  await run('feedback bad since', { method: 'GET', url: '/v1/apps/demo/feedback?since=yesterday' });
  const key = () => {
    const made = generateProviderKey();
    return { type: 'token', keyPem: made.privateKeyPem, keyId: made.keyId, teamId: made.teamId };
  };
  const news = { bundleId: 'com.example.news', environments: ['sandbox'] };
  await run('app create', {
    method: 'PUT',
    url: '/v1/apps/news',
    headers: json,
    payload: { ...news, credentials: key() },
  });
  await run('app update', {
    method: 'PUT',
    url: '/v1/apps/news',
    headers: json,
    payload: { ...news, rateLimitPerSecond: 100 },
  });
  await run('app no credentials', { method: 'PUT', url: '/v1/apps/fresh', headers: json, payload: news });
  await run('app bad credentials', {
    method: 'PUT',
    url: '/v1/apps/fresh',
    headers: json,
    payload: { ...news, credentials: { ...key(), keyPem: 'not a key' } },
  });
  await run('app config read-only', {
    method: 'PUT',
    url: '/v1/apps/demo',
    headers: json,
    payload: { ...news, credentials: key() },
  });
  await run('app', { method: 'GET', url: '/v1/apps/news' });
  await run('app config', { method: 'GET', url: '/v1/apps/demo' });
  await run('app unknown', { method: 'GET', url: '/v1/apps/nope' });
  await run('apps', { method: 'GET', url: '/v1/apps' });
  await run('apps as reader', { method: 'GET', url: '/v1/apps', key: keys.reader });
  await run('apps bad limit', { method: 'GET', url: '/v1/apps?limit=0' });
  await run('app rotate', { method: 'PUT', url: '/v1/apps/news/credentials', headers: json, payload: key() });
  await run('app rotate unknown', {
    method: 'PUT',
    url: '/v1/apps/nope/credentials',
    headers: json,
    payload: key(),
  });
  await run('app disable', { method: 'POST', url: '/v1/apps/news/disable' });
  await run('app enable', { method: 'POST', url: '/v1/apps/news/enable' });
  await run('app delete config', { method: 'DELETE', url: '/v1/apps/demo' });
  await run('app delete', { method: 'DELETE', url: '/v1/apps/news' });
  await liveBattery(run);
  for (const path of ['/metrics', '/healthz', '/readyz'])
    await run(path, { method: 'GET', url: path, key: null });
  return results;
}

/** Live Activities, channels and broadcasts (routes/live.ts, channels.ts, broadcasts.ts). */
async function liveBattery(
  run: (name: string, options: InjectOptions & { key?: string | null }) => Promise<{ json(): Json }>,
): Promise<void> {
  const l = '/v1/apps/demo/live-activities';
  const update = { event: 'update', contentState: { score: 1 } };
  await run('live by token', {
    method: 'POST',
    url: l,
    headers: json,
    payload: { tokens: [token(20)], notification: update },
  });
  await run('live start by activity', {
    method: 'POST',
    url: l,
    headers: json,
    payload: {
      activityIds: ['a1'],
      notification: {
        ...update,
        event: 'start',
        alert: { title: 'Kick-off', body: 'Lyon – Nantes' },
        attributesType: 'Match',
        attributes: { home: 'Lyon' },
      },
    },
  });
  await run('live dismissal on update', {
    method: 'POST',
    url: l,
    headers: json,
    payload: { tokens: [token(20)], notification: { ...update, dismissalDate: 1 } },
  });
  const p = `${l}/push-to-start/${token(21)}`;
  await run('push-to-start register', {
    method: 'PUT',
    url: p,
    headers: json,
    payload: { attributesType: 'Match', userId: 'u1' },
  });
  await run('push-to-start read', { method: 'GET', url: `${p}?attributesType=Match` });
  await run('push-to-start bad type', { method: 'GET', url: `${p}?attributesType=a%20b` });
  await run('push-to-start delete', { method: 'DELETE', url: `${p}?attributesType=Match` });
  await run('push-to-start gone', { method: 'GET', url: `${p}?attributesType=Match` });
  const a = `${l}/activities/act-1`;
  await run('activity register', {
    method: 'PUT',
    url: a,
    headers: json,
    payload: { token: token(22), userId: 'u1' },
  });
  await run('activity bad token', { method: 'PUT', url: a, headers: json, payload: { token: 'zz' } });
  await run('activity read', { method: 'GET', url: a });
  await run('live by user', {
    method: 'POST',
    url: l,
    headers: json,
    payload: { userIds: ['u1'], notification: update },
  });
  await run('activity delete', { method: 'DELETE', url: a });
  await run('activity gone', { method: 'GET', url: a });
  const c = '/v1/apps/demo/channels';
  await run('channel create', {
    method: 'POST',
    url: c,
    headers: json,
    payload: { name: 'm1', messageStoragePolicy: 0 },
  });
  await run('channel exists', { method: 'POST', url: c, headers: json, payload: { name: 'm1' } });
  await run('channel bad name', { method: 'POST', url: c, headers: json, payload: { name: 'a b' } });
  await run('channels', { method: 'GET', url: c });
  await run('channel', { method: 'GET', url: `${c}/m1` });
  await run('channel unknown', { method: 'GET', url: `${c}/nope` });
  const sent = await run('broadcast', {
    method: 'POST',
    url: `${c}/m1/broadcasts`,
    headers: json,
    payload: { notification: update },
  });
  await run('broadcast bad expiration', {
    method: 'POST',
    url: `${c}/m1/broadcasts`,
    headers: json,
    payload: { notification: { ...update, expiration: 1 } },
  });
  await run('broadcast status', { method: 'GET', url: `/v1/apps/demo/broadcasts/${sent.json().id}` });
  await run('broadcast unknown', { method: 'GET', url: '/v1/apps/demo/broadcasts/nope' });
  await run('channel delete', { method: 'DELETE', url: `${c}/m1` });
}

const liveExpected: Record<string, [number, string?, string?]> = {
  'live start by activity': [400, 'PF_ERR_VALIDATION', 'activityIds'],
  'live dismissal on update': [400, 'PF_ERR_VALIDATION', 'notification.dismissalDate'],
  'push-to-start bad type': [400, 'PF_ERR_VALIDATION', 'attributesType'],
  'push-to-start delete': [204],
  'push-to-start gone': [404, 'PF_ERR_NOT_FOUND', 'token'],
  'activity bad token': [400, 'PF_ERR_BAD_DEVICE_TOKEN', 'token'],
  'activity delete': [204],
  'activity gone': [404, 'PF_ERR_NOT_FOUND', 'activityId'],
  'channel exists': [409, 'PF_ERR_CHANNEL_EXISTS', 'name'],
  'channel bad name': [400, 'PF_ERR_VALIDATION', 'name'],
  'channel unknown': [404, 'PF_ERR_NOT_FOUND', 'channel'],
  'broadcast bad expiration': [400, 'PF_ERR_VALIDATION', 'notification.expiration'],
  'broadcast unknown': [404, 'PF_ERR_NOT_FOUND', 'id'],
  'channel delete': [204],
};

test('every answer to a battery of requests is documented for its route, status and code, and parses with its schema', async () => {
  const results = await battery();
  const expect: Record<string, [number, string?, string?]> = {
    send: [202],
    'send replayed': [202],
    'send key reused': [422, 'PF_ERR_IDEMPOTENCY_MISMATCH', 'Idempotency-Key'],
    'send key too long': [400, 'PF_ERR_VALIDATION', 'Idempotency-Key'],
    'send bad token': [400, 'PF_ERR_BAD_DEVICE_TOKEN', 'tokens.0'],
    'send bad badge': [400, 'PF_ERR_VALIDATION', 'notification.badge'],
    'send no tokens': [400, 'PF_ERR_EMPTY_TOKENS', 'tokens'],
    'send production': [400, 'PF_ERR_ENVIRONMENT_NOT_ENABLED', 'environment'],
    'send too large': [400, 'PF_ERR_PAYLOAD_TOO_LARGE', 'notification'],
    'send bad json': [400, 'PF_ERR_INVALID_JSON'],
    'send xml': [415, 'PF_ERR_UNSUPPORTED_MEDIA_TYPE'],
    'send unknown app': [404, 'PF_ERR_UNKNOWN_APP', 'app'],
    'send without key': [401, 'PF_ERR_UNAUTHORIZED'],
    'send as reader': [403, 'PF_ERR_FORBIDDEN'],
    'notification unknown': [404, 'PF_ERR_NOT_FOUND', 'id'],
    'notification report bad format': [400, 'PF_ERR_VALIDATION', 'format'],
    'campaign empty': [400, 'PF_ERR_EMPTY_AUDIENCE', 'audience.tokens'],
    'campaign ndjson bad line': [400, 'PF_ERR_BAD_DEVICE_TOKEN', 'line.2'],
    'campaigns bad limit': [400, 'PF_ERR_VALIDATION', 'limit'],
    'register no body': [200],
    'register bad token': [400, 'PF_ERR_BAD_DEVICE_TOKEN', 'token'],
    'register bad tags': [400, 'PF_ERR_VALIDATION', 'tags'],
    'device bad environment': [400, 'PF_ERR_VALIDATION', 'environment'],
    unregister: [204],
    'device gone': [404, 'PF_ERR_NOT_FOUND', 'token'],
    'import bad line': [400, 'PF_ERR_VALIDATION', 'devices.0.tags'],
    'feedback bad since': [400, 'PF_ERR_VALIDATION', 'since'],
    ...liveExpected,
    'app create': [201],
    'app no credentials': [400, 'PF_ERR_VALIDATION', 'credentials'],
    'app bad credentials': [400, 'PF_ERR_BAD_CREDENTIALS', 'credentials.keyPem'],
    'app config read-only': [409, 'PF_ERR_APP_READ_ONLY'],
    'app unknown': [404, 'PF_ERR_UNKNOWN_APP', 'app'],
    'apps as reader': [403, 'PF_ERR_FORBIDDEN'],
    'apps bad limit': [400, 'PF_ERR_VALIDATION', 'limit'],
    'app rotate unknown': [404, 'PF_ERR_UNKNOWN_APP'],
    'app delete config': [409, 'PF_ERR_APP_READ_ONLY'],
    'app delete': [204],
  };
  for (const [name, [status, code, field]] of Object.entries(expect)) {
    const got = results.get(name);
    assert.deepEqual(
      { status: got?.status, code: got?.code, field: got?.field },
      { status, code, field },
      name,
    );
  }
  for (const [name, got] of results) {
    if (!(name in expect)) assert.ok(got.status < 300, `${name}: ${JSON.stringify(got)}`);
  }

  const answered = new Set<string>();
  for (const s of seen) {
    const where = `${s.method} ${s.route} → ${s.status}`;
    const route = routes.find((r) => r.method === s.method && r.url === s.route);
    const op = doc.paths[openApiPath(s.route)]?.[s.method.toLowerCase()];
    assert.ok(route && op, `${where}: not documented`);
    const documented = op.responses[String(s.status)];
    assert.ok(documented, `${where}: status not documented`);
    if (s.status < 300) answered.add(`${s.method} ${s.route}`);
    const mediaType = s.type.split(';')[0]!;
    if (s.status === 204) continue;
    assert.ok(documented.content?.[mediaType], `${where}: ${mediaType} not documented`);
    if (mediaType !== 'application/json' || typeof s.payload !== 'string') continue;
    // The schema the document was generated from, checked against the real answer.
    const declared = route.schema?.response?.[s.status] as Json | undefined;
    const schema = declared?.content['application/json'].schema as z.ZodType;
    const body = JSON.parse(s.payload);
    const parsed = schema.safeParse(body);
    assert.ok(parsed.success, `${where}: ${parsed.error?.message} in ${s.payload.slice(0, 300)}`);
    assert.deepEqual(parsed.data, body, `${where}: the answer has fields the schema does not document`);
  }
  const exercised = operations()
    .map(({ path, method }) => `${method.toUpperCase()} ${path}`)
    .filter((op) => ![...answered].some((a) => `${a.split(' ')[0]} ${openApiPath(a.split(' ')[1]!)}` === op));
  assert.deepEqual(exercised, [], 'operations the battery never answered with success');
});

test('/docs is Swagger UI served from the npm package, with a same-origin-only CSP', async () => {
  const page = await api.inject({ method: 'GET', url: '/docs' });
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'] as string, /text\/html/);
  assert.match(page.body, /swagger-ui-bundle\.js/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'the page loads nothing from elsewhere');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /https?:|upgrade-insecure-requests/);
  const bundle = await api.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
  assert.equal(bundle.statusCode, 200);
  const require = createRequire(import.meta.url);
  const packaged = join(
    dirname(require.resolve('@fastify/swagger-ui/package.json')),
    'static/swagger-ui-bundle.js',
  );
  assert.equal(bundle.rawPayload.length, readFileSync(packaged).length);
  const init = await api.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
  assert.match(init.body, /validatorUrl: null/, 'no request to an online validator');
});
