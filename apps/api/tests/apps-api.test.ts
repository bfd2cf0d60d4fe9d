// The admin API (/v1/apps): every route over HTTP against a real Redis, with credentials made at run
// time; registry apps served by the send routes through the api's app directory; permissions, config
// apps read-only, delete refused while the queue has work, bad uploads named, and no secret in any
// answer or log line.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pendingWork } from '@pushfleet/queue';
import { createLogger } from '@pushfleet/telemetry';
import { type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import type { InjectOptions } from 'fastify';
import { hashApiKeySha256 } from '../src/auth.ts';
import { certificateUpload, p12Upload, rsaTokenUpload, secretsOf, tokenUpload } from './credentials.ts';
import { emptyAppQueues, startTestApi, type TestApi, token } from './helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are walked untyped
type Json = Record<string, any>;

const keys = {
  admin: 'k-admin-0123456789',
  newsAdmin: 'k-news-admin-0123456789',
  sender: 'k-sender-0123456789',
};
const apiConfig = {
  keys: [
    { id: 'admin', hash: hashApiKeySha256(keys.admin), apps: ['*'], permissions: ['admin'] },
    { id: 'news-admin', hash: hashApiKeySha256(keys.newsAdmin), apps: ['news'], permissions: ['admin'] },
    { id: 'sender', hash: hashApiKeySha256(keys.sender), apps: ['*'], permissions: ['send', 'read'] },
  ],
};

/** Every log line the apis wrote, and every answer body they gave: searched for secrets at the end. */
const logLines: string[] = [];
const bodies: string[] = [];
const secrets: string[] = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
const log = createLogger({ name: 'apps-api-test', level: 'debug', destination: logSink });

let server: StartedRedis;
let t: TestApi;
const kek = randomBytes(32);

before(async () => {
  server = await startRedis();
  t = await startTestApi(apiConfig, { redisServer: server, registry: { kek, pollMs: 200 }, log });
});
after(async () => {
  await t.close();
  await server.stop();
});

async function call(
  api: TestApi,
  options: InjectOptions & { key?: string | null },
): Promise<{ status: number; body: Record<string, unknown> & { code?: string; field?: string } }> {
  const { key = keys.admin, ...rest } = options;
  const res = await api.api.inject({
    ...rest,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...rest.headers },
  } as InjectOptions);
  bodies.push(res.body);
  return { status: res.statusCode, body: res.body ? res.json() : {} };
}
const req = (options: InjectOptions & { key?: string | null }) => call(t, options);

const send = (app: string, key: string | null = keys.sender) =>
  req({
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    key,
    payload: { tokens: [token(1)], notification: { alert: 'hi' } },
  });

function upload<T extends Record<string, unknown>>(credentials: T): T {
  secrets.push(...secretsOf(credentials));
  return credentials;
}

test('an app through its life over HTTP: create, read, list, update, rotate (p12, PEM), disable, enable, delete', async () => {
  const created = await req({
    method: 'PUT',
    url: '/v1/apps/news',
    payload: {
      bundleId: 'com.example.news',
      environments: ['sandbox', 'production'],
      feedback: { webhook: { url: 'https://hooks.example.com/x', secret: 'webhook-secret-0123456789' } },
      credentials: upload(tokenUpload()),
    },
  });
  secrets.push('webhook-secret-0123456789');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const app = created.body.app as Json;
  assert.deepEqual([app.id, app.source, app.state], ['news', 'registry', 'active']);
  assert.equal(app.credentials.type, 'token');
  assert.match(app.credentials.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(app.credentials.notAfter, null);
  assert.deepEqual(app.expiry, { sandbox: null, production: null }, 'a .p8 key does not expire');
  assert.equal(app.settings.feedback.webhook.secret, '[redacted]');
  assert.deepEqual(created.body.warnings, []);

  const read = await req({ method: 'GET', url: '/v1/apps/news' });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, app);

  const listed = await req({ method: 'GET', url: '/v1/apps' });
  assert.deepEqual(
    (listed.body.items as { id: string; source: string }[]).map((a) => `${a.id}:${a.source}`),
    ['demo:config', 'news:registry', 'other:config'],
  );

  const updated = await req({
    method: 'PUT',
    url: '/v1/apps/news',
    payload: { bundleId: 'com.example.news', environments: ['sandbox'], rateLimitPerSecond: 50 },
  });
  assert.equal(updated.status, 200);
  const after1 = updated.body.app as Json;
  assert.equal(after1.settings.rateLimitPerSecond, 50);
  assert.equal(after1.credentials.fingerprint, app.credentials.fingerprint, 'credentials kept');
  assert.notEqual(after1.revision, app.revision);

  const p12 = p12Upload(['com.example.news']);
  upload(p12.upload);
  secrets.push(...secretsOf({ keyPem: p12.keyPem }));
  const rotated = await req({ method: 'PUT', url: '/v1/apps/news/credentials', payload: p12.upload });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const cert = (rotated.body.app as Json).credentials;
  assert.equal(cert.type, 'certificate');
  assert.match(cert.subject, /com\.example\.news/);
  assert.ok(cert.topics.includes('com.example.news'));
  assert.ok(Date.parse(cert.notAfter) > Date.now(), 'notAfter is the expiry, in the future');
  // The app now sends to sandbox only (the update above): its expiry there is the certificate's.
  assert.deepEqual((rotated.body.app as Json).expiry, { sandbox: cert.notAfter });
  assert.ok(!('pfx' in cert) && !('passphrase' in cert) && !('keyPem' in cert));

  const pem = await req({
    method: 'PUT',
    url: '/v1/apps/news/credentials',
    payload: upload(certificateUpload(['com.example.news'])),
  });
  assert.equal(pem.status, 200);
  assert.notEqual((pem.body.app as Json).credentials.fingerprint, cert.fingerprint);

  const disabled = await req({ method: 'POST', url: '/v1/apps/news/disable' });
  assert.deepEqual([disabled.status, disabled.body.state], [200, 'disabled']);
  const again = await req({ method: 'POST', url: '/v1/apps/news/disable' });
  assert.deepEqual([again.status, again.body.state], [200, 'disabled']);
  const enabled = await req({ method: 'POST', url: '/v1/apps/news/enable' });
  assert.deepEqual([enabled.status, enabled.body.state], [200, 'active']);

  const deleted = await req({ method: 'DELETE', url: '/v1/apps/news' });
  assert.equal(deleted.status, 204);
  const gone = await req({ method: 'GET', url: '/v1/apps/news' });
  assert.deepEqual([gone.status, gone.body.code], [404, 'PF_ERR_UNKNOWN_APP']);
  const goneAgain = await req({ method: 'DELETE', url: '/v1/apps/news' });
  assert.deepEqual([goneAgain.status, goneAgain.body.code], [404, 'PF_ERR_UNKNOWN_APP']);
});

test('the send routes serve registry apps: this api at once (read-your-writes), another replica within its poll; disabled → PF_ERR_APP_DISABLED, deleted → unknown', async (ctx) => {
  const replica = await startTestApi(apiConfig, {
    redisServer: server,
    prefix: t.prefix,
    registry: { kek, pollMs: 200 },
    log,
  });
  try {
    const sendVia = (api: TestApi, app: string) =>
      call(api, {
        method: 'POST',
        url: `/v1/apps/${app}/notifications`,
        key: keys.sender,
        payload: { tokens: [token(1)], notification: { alert: 'hi' } },
      });
    assert.deepEqual((await send('live')).body.code, 'PF_ERR_UNKNOWN_APP');
    const started = Date.now();
    const put = await req({
      method: 'PUT',
      url: '/v1/apps/live',
      payload: {
        bundleId: 'com.example.live',
        environments: ['sandbox'],
        credentials: upload(tokenUpload()),
      },
    });
    assert.equal(put.status, 201);
    // The api that answered the PUT serves the app from then on, without a wait.
    const first = await send('live');
    assert.equal(first.status, 202, JSON.stringify(first.body));
    // Another api process follows the registry's change channel (or, a message lost, its poll).
    await waitFor('the replica serves the app', async () => (await sendVia(replica, 'live')).status === 202, {
      timeoutMs: 5000,
      intervalMs: 5,
    });
    const replicaMs = Date.now() - started;
    ctx.diagnostic(`PUT → the other replica's first 202 in ${replicaMs} ms (pollMs 200)`);
    assert.ok(replicaMs < 2000, `${replicaMs} ms`);

    const id = first.body.id as string;
    await req({ method: 'POST', url: '/v1/apps/live/disable' });
    const refused = await send('live');
    assert.deepEqual(
      [refused.status, refused.body.code, refused.body.field],
      [409, 'PF_ERR_APP_DISABLED', 'app'],
    );
    await waitFor('the replica refuses it too', async () => (await sendVia(replica, 'live')).status === 409);
    const campaign = await req({
      method: 'POST',
      url: '/v1/apps/live/campaigns',
      key: keys.sender,
      payload: { notification: { alert: 'x' }, audience: { kind: 'tokens', tokens: [token(2)] } },
    });
    assert.deepEqual([campaign.status, campaign.body.code], [409, 'PF_ERR_APP_DISABLED']);
    // Reads and device registrations go on: only new work is refused.
    const status = await req({ method: 'GET', url: `/v1/apps/live/notifications/${id}`, key: keys.sender });
    assert.equal(status.status, 200);
    const device = await req({
      method: 'PUT',
      url: `/v1/apps/live/devices/${token(9)}`,
      payload: { userId: 'u9' },
    });
    assert.deepEqual([device.status, device.body.app], [200, 'live']);

    await req({ method: 'POST', url: '/v1/apps/live/enable' });
    assert.equal((await send('live')).status, 202);

    // Delete needs an empty queue: drop the accepted jobs (no worker runs here).
    await emptyAppQueues(t.queues, 'live');
    assert.equal((await req({ method: 'DELETE', url: '/v1/apps/live' })).status, 204);
    const unknown = await send('live');
    assert.deepEqual(
      [unknown.status, unknown.body.code, unknown.body.field],
      [404, 'PF_ERR_UNKNOWN_APP', 'app'],
    );
    await waitFor('the replica forgets it too', async () => (await sendVia(replica, 'live')).status === 404);
    // Config apps are served as before.
    assert.equal((await send('demo')).status, 202);
  } finally {
    await replica.close();
  }
});

test('DELETE is refused while the app’s queue holds work (waiting or scheduled), and allowed once it is empty', async () => {
  await req({
    method: 'PUT',
    url: '/v1/apps/busy',
    payload: { bundleId: 'com.example.busy', environments: ['sandbox'], credentials: upload(tokenUpload()) },
  });
  assert.equal((await send('busy')).status, 202);
  const refused = await req({ method: 'DELETE', url: '/v1/apps/busy' });
  assert.deepEqual([refused.status, refused.body.code], [409, 'PF_ERR_APP_HAS_WORK']);
  assert.equal((await req({ method: 'GET', url: '/v1/apps/busy' })).status, 200, 'still there');

  await emptyAppQueues(t.queues, 'busy');
  // A send scheduled an hour ahead is work too (a delayed job).
  const later = await req({
    method: 'POST',
    url: '/v1/apps/busy/notifications',
    key: keys.sender,
    payload: {
      tokens: [token(3)],
      notification: { alert: 'later' },
      sendAt: new Date(Date.now() + 3600_000).toISOString(),
    },
  });
  assert.equal(later.status, 202);
  assert.equal((await pendingWork(t.queues.appQueues('busy'))).delayed, 1);
  const scheduled = await req({ method: 'DELETE', url: '/v1/apps/busy' });
  assert.deepEqual([scheduled.status, scheduled.body.code], [409, 'PF_ERR_APP_HAS_WORK']);

  await emptyAppQueues(t.queues, 'busy');
  assert.equal((await req({ method: 'DELETE', url: '/v1/apps/busy' })).status, 204);
});

test('GET /v1/apps pages by id (`next` → `after`), and refuses a bad limit', async () => {
  for (const id of ['page-a', 'page-b', 'page-c']) {
    const put = await req({
      method: 'PUT',
      url: `/v1/apps/${id}`,
      payload: {
        bundleId: `com.example.${id}`,
        environments: ['sandbox'],
        credentials: upload(tokenUpload()),
      },
    });
    assert.equal(put.status, 201);
  }
  const all = await req({ method: 'GET', url: '/v1/apps' });
  const ids = (all.body.items as { id: string }[]).map((a) => a.id);
  assert.equal(all.body.next, null);
  assert.ok(ids.length >= 5, ids.join());
  const paged: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const page = await req({ method: 'GET', url: `/v1/apps?limit=2${after ? `&after=${after}` : ''}` });
    assert.equal(page.status, 200);
    const items = page.body.items as { id: string }[];
    assert.ok(items.length <= 2);
    paged.push(...items.map((a) => a.id));
    after = page.body.next as string | null;
    pages++;
  } while (after !== null && pages < 10);
  assert.deepEqual(paged, ids);
  assert.equal(pages, Math.ceil(ids.length / 2));
  for (const limit of ['0', '1001', 'x']) {
    const bad = await req({ method: 'GET', url: `/v1/apps?limit=${limit}` });
    assert.deepEqual([bad.status, bad.body.code, bad.body.field], [400, 'PF_ERR_VALIDATION', 'limit'], limit);
  }
  for (const id of ['page-a', 'page-b', 'page-c']) await req({ method: 'DELETE', url: `/v1/apps/${id}` });
});

test('permissions: admin only; a key scoped to apps manages and lists just those', async () => {
  const routes: InjectOptions[] = [
    { method: 'GET', url: '/v1/apps' },
    { method: 'GET', url: '/v1/apps/demo' },
    { method: 'PUT', url: '/v1/apps/scoped', payload: {} },
    { method: 'PUT', url: '/v1/apps/scoped/credentials', payload: {} },
    { method: 'POST', url: '/v1/apps/scoped/disable' },
    { method: 'POST', url: '/v1/apps/scoped/enable' },
    { method: 'DELETE', url: '/v1/apps/scoped' },
  ];
  for (const route of routes) {
    const anonymous = await req({ ...route, key: null });
    assert.deepEqual([anonymous.status, anonymous.body.code], [401, 'PF_ERR_UNAUTHORIZED'], route.url);
    const sender = await req({ ...route, key: keys.sender });
    assert.deepEqual([sender.status, sender.body.code], [403, 'PF_ERR_FORBIDDEN'], route.url);
    assert.match(String(sender.body.message), /admin/);
    if (route.url !== '/v1/apps') {
      const scoped = await req({ ...route, key: keys.newsAdmin });
      assert.deepEqual([scoped.status, scoped.body.code], [403, 'PF_ERR_FORBIDDEN'], route.url);
    }
  }
  const created = await req({
    method: 'PUT',
    url: '/v1/apps/news',
    key: keys.newsAdmin,
    payload: { bundleId: 'com.example.news', environments: ['sandbox'], credentials: upload(tokenUpload()) },
  });
  assert.equal(created.status, 201);
  const listed = await req({ method: 'GET', url: '/v1/apps', key: keys.newsAdmin });
  assert.deepEqual(
    (listed.body.items as { id: string }[]).map((a) => a.id),
    ['news'],
  );
  assert.equal((await req({ method: 'DELETE', url: '/v1/apps/news', key: keys.newsAdmin })).status, 204);
});

test('config apps are listed and read, never changed (PF_ERR_APP_READ_ONLY)', async () => {
  const read = await req({ method: 'GET', url: '/v1/apps/demo' });
  assert.equal(read.status, 200);
  assert.deepEqual([read.body.source, read.body.state, read.body.revision], ['config', 'active', 'config']);
  // Its key file (/dev/null) is no key: no credential info, and no error either.
  assert.equal(read.body.credentials, null);
  const writes: InjectOptions[] = [
    {
      method: 'PUT',
      url: '/v1/apps/demo',
      payload: { bundleId: 'com.example.demo', credentials: tokenUpload() },
    },
    { method: 'PUT', url: '/v1/apps/demo/credentials', payload: tokenUpload() },
    { method: 'POST', url: '/v1/apps/demo/disable' },
    { method: 'POST', url: '/v1/apps/demo/enable' },
    { method: 'DELETE', url: '/v1/apps/demo' },
  ];
  for (const write of writes) {
    secrets.push(...secretsOf((write.payload as Record<string, unknown>) ?? {}));
    const res = await req(write);
    assert.deepEqual(
      [res.status, res.body.code],
      [409, 'PF_ERR_APP_READ_ONLY'],
      `${write.method} ${write.url}`,
    );
  }
  assert.equal((await send('demo')).status, 202);
});

test('bad uploads and bodies are 400s naming the problem and the field', async () => {
  const put = (app: string, payload: unknown) =>
    req({ method: 'PUT', url: `/v1/apps/${app}`, payload: payload as object });
  const base = { bundleId: 'com.example.bad', environments: ['sandbox'] };
  const p12 = p12Upload(['com.example.bad'], 'right-passphrase-1');
  secrets.push(...secretsOf(p12.upload, { keyPem: p12.keyPem }));
  const cases: [string, unknown, number, string, string, RegExp?][] = [
    ['no credentials', base, 400, 'PF_ERR_VALIDATION', 'credentials'],
    [
      'bad bundle id',
      { ...base, bundleId: 'com example', credentials: upload(tokenUpload()) },
      400,
      'PF_ERR_VALIDATION',
      'bundleId',
    ],
    [
      'unknown field',
      { ...base, colour: 'red', credentials: upload(tokenUpload()) },
      400,
      'PF_ERR_VALIDATION',
      '',
    ],
    [
      'legacy endpoint',
      {
        ...base,
        feedback: { legacyEndpoint: { host: 'h', port: 1, pfxFile: '/x' } },
        credentials: upload(tokenUpload()),
      },
      400,
      'PF_ERR_VALIDATION',
      'feedback.legacyEndpoint',
    ],
    [
      'not P-256',
      { ...base, credentials: upload(rsaTokenUpload()) },
      400,
      'PF_ERR_BAD_CREDENTIALS',
      'credentials.keyPem',
      /P-256/,
    ],
    [
      'wrong passphrase',
      { ...base, credentials: upload({ ...p12.upload, passphrase: 'wrong-passphrase-9' }) },
      400,
      'PF_ERR_BAD_CREDENTIALS',
      'credentials.passphrase',
      /passphrase/,
    ],
    [
      'expired certificate',
      { ...base, credentials: upload(certificateUpload(['com.example.bad'], { expired: true })) },
      400,
      'PF_ERR_BAD_CREDENTIALS',
      'credentials.certPem',
      /expired/,
    ],
    [
      'certificate for another bundle id',
      { ...base, credentials: upload(certificateUpload(['com.example.other'])) },
      400,
      'PF_ERR_BAD_CREDENTIALS',
      'credentials.certPem',
    ],
    ['bad app id', { ...base, credentials: upload(tokenUpload()) }, 400, 'PF_ERR_VALIDATION', 'app'],
  ];
  for (const [name, payload, status, code, field, message] of cases) {
    const res = await put(name === 'bad app id' ? 'Bad_App' : 'bad', payload);
    assert.deepEqual([res.status, res.body.code], [status, code], `${name}: ${JSON.stringify(res.body)}`);
    if (field) assert.equal(res.body.field, field, name);
    if (message) assert.match(String(res.body.message), message, name);
  }
  assert.equal((await req({ method: 'GET', url: '/v1/apps/bad' })).status, 404, 'nothing was stored');
  const rotate = await req({
    method: 'PUT',
    url: '/v1/apps/bad/credentials',
    payload: upload(tokenUpload()),
  });
  assert.deepEqual([rotate.status, rotate.body.code], [404, 'PF_ERR_UNKNOWN_APP']);
  const badJson = await req({
    method: 'PUT',
    url: '/v1/apps/bad',
    headers: { 'content-type': 'application/json' },
    payload: '{"bundleId":',
  });
  assert.deepEqual([badJson.status, badJson.body.code], [400, 'PF_ERR_INVALID_JSON']);
});

test('without a key-encryption key, credentials are refused (PF_ERR_ENCRYPTION_KEY_MISSING) and nothing is stored', async () => {
  const bare = await startTestApi(apiConfig, { redisServer: server, registry: {}, log });
  try {
    const res = await call(bare, {
      method: 'PUT',
      url: '/v1/apps/news',
      payload: { bundleId: 'com.example.news', credentials: upload(tokenUpload()) },
    });
    assert.deepEqual([res.status, res.body.code], [500, 'PF_ERR_ENCRYPTION_KEY_MISSING']);
    assert.match(String(res.body.message), /appRegistry\.keyEncryptionKey/);
    assert.equal((await call(bare, { method: 'GET', url: '/v1/apps/news' })).status, 404);
  } finally {
    await bare.close();
  }
});

test('no answer and no log line carries key material, a passphrase or a webhook secret', () => {
  assert.ok(secrets.length > 20, `${secrets.length} secrets collected`);
  assert.ok(bodies.length > 50, `${bodies.length} answers collected`);
  assert.ok(
    logLines.some((line) => line.includes('PF_ERR_ENCRYPTION_KEY_MISSING')),
    'the 500 was logged (so logs were searched)',
  );
  for (const line of logLines) assert.doesNotThrow(() => JSON.parse(line), 'JSON log lines only');
  // The audit trail: every admin write, by whom (the first test's app, by the admin key).
  const audit = logLines
    .map((line) => JSON.parse(line) as Json)
    .filter((line) => line.msg === 'app registry change' && line.app === 'news' && line.by === 'admin')
    .map((line) => line.action);
  assert.deepEqual(audit.slice(0, 8), [
    'create',
    'update',
    'rotate credentials',
    'rotate credentials',
    'disable',
    'disable', // the repeat: harmless, still on record
    'enable',
    'delete',
  ]);
  const text = [...bodies, ...logLines].join('\n');
  const leaked = secrets.filter((secret) => text.includes(secret));
  assert.deepEqual(
    leaked.map((s) => `${s.slice(0, 6)}…`),
    [],
  );
  assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/);
});
