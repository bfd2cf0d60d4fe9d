import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorCatalogue } from '@pushfleet/core';
import { startTestApi, type TestApi, token } from './helpers.ts';

/**
 * Property: every malformed body gets a 4xx whose body is `{ code, message, field? }` with a
 * catalogued code; nothing is enqueued or stored; the process keeps answering. The generator is a
 * seeded PRNG (deterministic: a failure names its seed and case), not fast-check (not installed).
 */
const seed = Number(process.env.PF_FUZZ_SEED ?? 20_260_501);
const cases = Number(process.env.PF_FUZZ_CASES ?? 400);

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const randomString = (max: number) =>
  Array.from({ length: Math.floor(random() * max) }, () =>
    String.fromCharCode(Math.floor(random() * 0x2fff)),
  ).join('');
const junk = (): unknown =>
  pick([null, true, 0, -1, 1.5, 1e308, '', randomString(20), [], {}, [null], { a: [{}] }, 'x'.repeat(5000)]);

/** Values that are invalid for each field on their own, so any combination is invalid too. */
const badNotification: unknown[] = [
  null,
  'x',
  [],
  { badge: -1 },
  { badge: '1' },
  { badge: 1.5 },
  { pushType: 'nope' },
  { priority: 7 },
  { alert: { title: 5 } },
  { alert: { colour: 'red' } },
  { sound: { name: 1 } },
  { sound: { critical: 'yes', name: 'x' } },
  { data: { aps: 1 } },
  { data: 'x' },
  { relevanceScore: 2 },
  { collapseId: 'c'.repeat(65) },
  { apnsId: 'NOT-A-UUID' },
  { alert: 'x'.repeat(5000) },
  { interruptionLevel: 'loud' },
  { expiration: -5 },
  { contentAvailable: 'yes' },
  { unknownKey: 1 },
];
const badTokens: unknown[] = [
  [],
  'str',
  [123],
  ['zz'],
  [null],
  [token(1), 'abc'],
  {},
  [token(1).slice(1)],
  ['g'.repeat(64)],
];

function mutate(base: Record<string, unknown>, pools: Record<string, unknown[]>): unknown {
  const roll = random();
  if (roll < 0.1) return junk(); // not an object at all
  const body: Record<string, unknown> = structuredClone(base);
  const fields = Object.keys(pools);
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const field = pick(fields);
    if (field === '$extra') body[`x${randomString(6)}`] = junk();
    else if (field === '$drop')
      delete body[pick(Object.keys(pools.$drop ?? {}).length ? (pools.$drop as string[]) : ['notification'])];
    else body[field] = pick(pools[field]!);
  }
  return body;
}

const rawJunk = () =>
  pick([
    '{',
    '{"tokens": [',
    '[1,2',
    'nul',
    '{"a":1}}',
    '{"__proto__": {"x": 1}, "tokens": []}',
    '{"constructor": {"prototype": {"x": 1}}}',
    `{"tokens": ["${token(1)}"], "notification": {"badge": 1e999999}}`,
    randomString(200),
    '\u0000\u0001',
    '',
  ]);

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => t.close());

type Case = { method: 'POST' | 'PUT'; url: string; contentType: string; payload: string };

function generate(): Case {
  const kind = pick(['notification', 'notification', 'campaign-json', 'campaign-upload', 'device', 'import']);
  const raw = random() < 0.15;
  switch (kind) {
    case 'notification':
      return {
        method: 'POST',
        url: '/v1/apps/demo/notifications',
        contentType: 'application/json',
        payload: raw
          ? rawJunk()
          : JSON.stringify(
              mutate(
                { tokens: [token(1)], notification: { alert: 'hi' } },
                {
                  tokens: badTokens,
                  notification: badNotification,
                  environment: ['staging', 1, null, 'production'],
                  sendAt: ['tomorrow', 12345, '2999-01-01T00:00:00Z', null],
                  userIds: [[], [''], ['a b'], 'u1', [1]],
                  $extra: [],
                },
              ),
            ),
      };
    case 'campaign-json':
      return {
        method: 'POST',
        url: '/v1/apps/demo/campaigns',
        contentType: 'application/json',
        payload: raw
          ? rawJunk()
          : JSON.stringify(
              mutate(
                { notification: { alert: 'x' }, audience: { kind: 'all' } },
                {
                  notification: badNotification,
                  audience: [
                    null,
                    { kind: 'everyone' },
                    { kind: 'tags', tags: [] },
                    { kind: 'tokens', tokens: ['zz'] },
                    { kind: 'tokens', tokens: [] },
                    'all',
                  ],
                  ratePerSecond: [0, -1, 1.5, 'fast', 1e9],
                  name: ['', 'n'.repeat(201), 5],
                  $extra: [],
                },
              ),
            ),
      };
    case 'campaign-upload': {
      const spec = raw
        ? rawJunk().replace(/\n/g, ' ')
        : JSON.stringify(
            mutate(
              { notification: { alert: 'x' } },
              { notification: badNotification, sendAt: ['soon'], $extra: [] },
            ),
          );
      const good = random() < 0.5;
      const lines = Array.from({ length: 1 + Math.floor(random() * 50) }, (_, i) =>
        JSON.stringify(token(i + 1)),
      );
      if (good)
        lines.splice(
          Math.floor(random() * lines.length),
          0,
          pick(['"zz"', '{"token": 1}', 'not json', '"', '{}', '[]']),
        );
      return {
        method: 'POST',
        url: '/v1/apps/demo/campaigns',
        contentType: 'application/x-ndjson',
        // Either the spec is bad, or a token line is.
        payload: `${good ? JSON.stringify({ notification: { alert: 'x' } }) : spec}\n${lines.join('\n')}\n`,
      };
    }
    case 'device':
      return {
        method: 'PUT',
        url: `/v1/apps/demo/devices/${pick([token(7), 'zz', 'a'.repeat(300), '%00'])}`,
        contentType: 'application/json',
        payload: raw
          ? rawJunk()
          : JSON.stringify(
              mutate(
                { userId: 'u1' },
                {
                  tags: ['vip', [''], [1], Array.from({ length: 51 }, (_, i) => `t${i}`)],
                  userId: ['', 'a b', 5, 'x'.repeat(200)],
                  environment: ['prod', 0],
                  locale: ['', 5],
                  $extra: [],
                },
              ),
            ),
      };
    default:
      return {
        method: 'POST',
        url: '/v1/apps/demo/devices/import',
        contentType: 'application/x-ndjson',
        payload: `${pick(['{"token": "zz"}', 'junk', '{"token": 5}', `{"token": "${token(1)}", "tags": "x"}`, '[]'])}\n`,
      };
  }
}

test(`fuzzed bodies (seed ${seed}, ${cases} cases): 4xx with a catalogued code, nothing enqueued, still up`, async () => {
  const codes = new Map<string, number>();
  for (let i = 0; i < cases; i++) {
    const c = generate();
    // A device PUT with a token and a valid body would register: only bodies checked as invalid count.
    const res = await t.api.inject({
      method: c.method,
      url: c.url,
      headers: { 'content-type': c.contentType },
      payload: c.payload,
    });
    const where = `case ${i} (seed ${seed}): ${c.method} ${c.url} ${c.payload.slice(0, 200)}`;
    if (c.method === 'PUT' && res.statusCode === 200) continue; // the mutation happened to be valid
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body} — ${where}`);
    const body = res.json() as { code: string; message: string; field?: string };
    assert.ok(body.code in errorCatalogue, `uncatalogued code ${body.code} — ${where}`);
    assert.equal(typeof body.message, 'string');
    assert.deepEqual(
      Object.keys(body).filter((k) => !['code', 'message', 'field'].includes(k)),
      [],
    );
    codes.set(body.code, (codes.get(body.code) ?? 0) + 1);
  }
  assert.equal(await t.queuedJobs('demo'), 0, 'no deliver or fan-out job');
  assert.deepEqual(await t.redis.keys(`${t.prefix}:app:*:n:*`), [], 'no records, no stored audience');
  assert.equal((await t.api.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  assert.ok(codes.size >= 6, `varied failures: ${JSON.stringify([...codes])}`);
});
