import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { feedbackKeys } from '@pushfleet/store';
import { startTestApi, type TestApi, token } from './helpers.ts';

let t: TestApi;
before(async () => {
  t = await startTestApi();
});
after(async () => t.close());

const put = (tok: string, body: unknown) =>
  t.api.inject({ method: 'PUT', url: `/v1/apps/demo/devices/${tok}`, payload: body as object });

test('register, refresh (indexes follow), read, send by user and tag, unregister', async () => {
  const first = await put(token(1).toUpperCase(), { userId: 'u1', tags: ['vip', 'fr'], locale: 'fr-FR' });
  assert.equal(first.statusCode, 200, first.body);
  assert.equal(first.json().token, token(1), 'stored normalised');
  await put(token(2), { userId: 'u1', tags: ['vip'] });
  await put(token(3), { userId: 'u2' });
  // Refresh token 1: no longer vip, now u2's.
  const refreshed = await put(token(1), { userId: 'u2', tags: ['fr'] });
  assert.ok(Date.parse(refreshed.json().registeredAt) >= Date.parse(first.json().registeredAt));

  const got = await t.api.inject({ method: 'GET', url: `/v1/apps/demo/devices/${token(1)}` });
  assert.equal(got.statusCode, 200);
  assert.deepEqual([got.json().userId, got.json().tags, got.json().locale], ['u2', ['fr'], null]);

  const byTag = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    payload: { tags: ['vip'], notification: { alert: 'hi' } },
  });
  assert.equal(byTag.statusCode, 202, byTag.body);
  assert.equal(byTag.json().accepted, 1, 'only token 2 is still vip');
  const byUser = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    payload: { userIds: ['u2', 'nobody'], notification: { alert: 'hi' } },
  });
  assert.equal(byUser.json().accepted, 2);

  const del = await t.api.inject({ method: 'DELETE', url: `/v1/apps/demo/devices/${token(1)}` });
  assert.equal(del.statusCode, 204);
  const gone = await t.api.inject({ method: 'GET', url: `/v1/apps/demo/devices/${token(1)}` });
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.json().code, 'PF_ERR_NOT_FOUND');
  const again = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    payload: { userIds: ['u2'], notification: {} },
  });
  assert.equal(again.json().accepted, 1);
});

test('bad registrations: token, environment, field types', async () => {
  const cases = [
    { url: '/v1/apps/demo/devices/xyz', body: {}, code: 'PF_ERR_BAD_DEVICE_TOKEN' },
    {
      url: `/v1/apps/demo/devices/${token(5)}`,
      body: { environment: 'production' },
      code: 'PF_ERR_ENVIRONMENT_NOT_ENABLED',
    },
    { url: `/v1/apps/demo/devices/${token(5)}`, body: { tags: 'vip' }, code: 'PF_ERR_VALIDATION' },
    { url: `/v1/apps/nope/devices/${token(5)}`, body: {}, code: 'PF_ERR_UNKNOWN_APP' },
  ];
  for (const c of cases) {
    const res = await t.api.inject({ method: 'PUT', url: c.url, payload: c.body });
    assert.equal(res.json().code, c.code, res.body);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500);
  }
});

test('bulk import: NDJSON stream and JSON; a bad line is named', async () => {
  const lines = Array.from({ length: 2500 }, (_, i) =>
    JSON.stringify({ token: token(1000 + i), tags: i % 2 ? ['odd'] : ['even'] }),
  );
  const res = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    headers: { 'content-type': 'application/x-ndjson' },
    payload: `${lines.join('\n')}\n`,
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().imported, 2500);
  const odd = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/notifications',
    payload: { tags: ['odd'], notification: {} },
  });
  assert.equal(odd.json().accepted, 1250);

  const json = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    payload: { devices: [{ token: token(9000), userId: 'x' }] },
  });
  assert.equal(json.json().imported, 1);

  const bad = await t.api.inject({
    method: 'POST',
    url: '/v1/apps/demo/devices/import',
    headers: { 'content-type': 'application/x-ndjson' },
    payload: `${JSON.stringify({ token: token(9001) })}\nnot json\n`,
  });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual([bad.json().code, bad.json().field], ['PF_ERR_INVALID_JSON', 'line.2']);
});

test('feedback feed: this app only, oldest first, cursor-paged by id', async () => {
  // What the scheduler's feedback poll publishes, one stream per app.
  for (let i = 0; i < 5; i++) {
    await t.redis.xadd(
      feedbackKeys.feed(t.prefix, i === 2 ? 'other' : 'demo'),
      '*',
      'token',
      token(i),
      'environment',
      'sandbox',
      'reason',
      'Unregistered',
      'timestamp',
      String(1_700_000_000_000 + i),
      'action',
      'purged',
    );
  }
  const page1 = await t.api.inject({ method: 'GET', url: '/v1/apps/demo/feedback?limit=2' });
  assert.equal(page1.statusCode, 200);
  const body1 = page1.json() as {
    items: { token: string; reason: string; timestamp: string; action: string }[];
    next: string;
  };
  assert.deepEqual(
    body1.items.map((i) => i.token),
    [token(0), token(1)],
  );
  assert.equal(body1.items[0]!.timestamp, new Date(1_700_000_000_000).toISOString());
  assert.equal(body1.items[0]!.action, 'purged');
  const page2 = await t.api.inject({ method: 'GET', url: `/v1/apps/demo/feedback?since=${body1.next}` });
  assert.deepEqual(
    (page2.json() as { items: { token: string }[] }).items.map((i) => i.token),
    [token(3), token(4)],
  );
  const badSince = await t.api.inject({ method: 'GET', url: '/v1/apps/demo/feedback?since=yesterday' });
  assert.equal(badSince.json().code, 'PF_ERR_VALIDATION');
});

test('OpenAPI document and docs page', async () => {
  const doc = (await t.api.inject({ method: 'GET', url: '/docs/json' })).json() as {
    openapi: string;
    paths: Record<string, unknown>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  assert.equal(doc.openapi, '3.0.3');
  for (const path of [
    '/v1/apps/{app}/notifications',
    '/v1/apps/{app}/campaigns',
    '/v1/apps/{app}/devices/{token}',
    '/v1/apps/{app}/feedback',
  ])
    assert.ok(doc.paths[path], path);
  assert.ok(doc.components.schemas.SendRequest?.properties?.notification);
  const page = await t.api.inject({ method: 'GET', url: '/docs' });
  assert.match(page.headers['content-type'] as string, /text\/html/);
});
