import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type StartedRedis, startRedis } from '@pushfleet/testkit';
import { hashApiKeyScrypt } from '../src/auth.ts';
import { startTestApi, type TestApi, token } from './helpers.ts';

let server: StartedRedis;
let t: TestApi;
let base: string;

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server });
  await t.api.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.api.server.address() as AddressInfo).port}`;
});
after(async () => {
  await t.close();
  await server.stop();
});

interface Answer {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

function send(
  method: string,
  path: string,
  options: {
    agent?: Agent;
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs?: number;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method, agent: options.agent, headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }),
        );
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

test('an upload refused before its body is read does not hang the keep-alive connection (finding 13)', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // The spec line is invalid: the route answers 400 with ~2 MB of lines still unread.
    const lines = Array.from({ length: 30_000 }, (_, i) => JSON.stringify(token(i))).join('\n');
    const refused = await send('POST', '/v1/apps/demo/campaigns', {
      agent,
      headers: { 'content-type': 'application/x-ndjson' },
      body: `{"notification":{"badge":-1}}\n${lines}\n`,
    }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
    if (refused.status !== 0) {
      assert.equal(refused.status, 400, refused.body);
      assert.equal(JSON.parse(refused.body).code, 'PF_ERR_VALIDATION');
    }
    // The next request through the same pool gets its answer (on a fresh connection).
    const next = await send('GET', '/healthz', { agent, timeoutMs: 3000 });
    assert.equal(next.status, 200);
    const notification = await send('POST', '/v1/apps/demo/notifications', {
      agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tokens: [token(1)], notification: { alert: 'still here' } }),
      timeoutMs: 3000,
    });
    assert.equal(notification.status, 202, notification.body);
  } finally {
    agent.destroy();
  }
});

test('headers over the limit get 431 with a catalogued body, not a bare status (finding 14)', async () => {
  const res = await send('GET', '/healthz', { headers: { 'x-big': 'a'.repeat(20_000) } });
  assert.equal(res.status, 431);
  assert.equal(JSON.parse(res.body).code, 'PF_ERR_HEADERS_TOO_LARGE');
});

test('custom data nested 10,000 levels deep is a 400 naming the field, never a 500 (finding 14)', async () => {
  const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  const res = await send('POST', '/v1/apps/demo/notifications', {
    headers: { 'content-type': 'application/json' },
    body: `{"tokens":["${token(2)}"],"notification":{"data":{"x":${deep}}}}`,
  });
  assert.equal(res.status, 400, res.body);
  assert.deepEqual(
    [JSON.parse(res.body).code, JSON.parse(res.body).field],
    ['PF_ERR_VALIDATION', 'notification.data'],
  );
  assert.equal(await t.queuedJobs(), 1, 'only the earlier notification is queued');
});

test('a JSON campaign with the documented 100,000 inline tokens is accepted (finding 11)', async () => {
  const tokens = Array.from({ length: 100_000 }, (_, i) => token(1_000_000 + i));
  const res = await send('POST', '/v1/apps/other/campaigns', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ notification: { alert: 'big' }, audience: { kind: 'tokens', tokens } }),
    timeoutMs: 20_000,
  });
  assert.equal(res.status, 202, res.body.slice(0, 300));
  assert.equal(JSON.parse(res.body).total, 100_000);
});

test('unknown API keys cannot make the api burn scrypt CPU: they are rate-limited before hashing (finding 11)', async () => {
  const salted = await hashApiKeyScrypt('the-real-key', randomBytes(16));
  const secured = await startTestApi(
    { keys: [{ id: 'ops', hash: salted, permissions: ['admin'] }] },
    { redisServer: server },
  );
  try {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        secured.api.inject({
          method: 'GET',
          url: '/v1/apps/demo/campaigns',
          headers: { authorization: `Bearer ${randomBytes(16).toString('hex')}` },
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const byStatus = new Map<number, number>();
    for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1);
    // The limiter (server.ts) lets a burst of 10 through, then 5/s: what refilled while the 60
    // requests were being answered counts too (a busy machine takes a while to answer them).
    assert.ok(
      (byStatus.get(401) ?? 0) <= 10 + Math.floor(5 * seconds),
      `scrypt ran for at most the burst and its refill: ${JSON.stringify([...byStatus])} in ${seconds.toFixed(2)} s`,
    );
    assert.equal((byStatus.get(401) ?? 0) + (byStatus.get(429) ?? 0), 60);
    assert.ok(answers.filter((a) => a.statusCode === 429).every((a) => a.headers['retry-after']));
    assert.ok(seconds < 2, `${seconds.toFixed(2)} s for 60 unknown keys`);
    // The real key still works (a cached key skips the limit).
    const ok = await secured.api.inject({
      method: 'GET',
      url: '/v1/apps/demo/campaigns',
      headers: { authorization: 'Bearer the-real-key', 'x-forwarded-for': '10.0.0.9' },
    });
    assert.ok(ok.statusCode === 200 || ok.statusCode === 429, String(ok.statusCode));
  } finally {
    await secured.close();
  }
});

test('the api shuts down within its deadline even with a half-read upload open', async () => {
  const other = await startTestApi({ shutdownGraceMs: 300 }, { redisServer: server });
  await other.api.listen({ host: '127.0.0.1', port: 0 });
  const port = (other.api.server.address() as AddressInfo).port;
  const req = httpRequest(`http://127.0.0.1:${port}/v1/apps/demo/campaigns`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' },
  });
  req.on('error', () => undefined);
  req.write(`{"notification":{"alert":"x"}}\n"${token(5)}"\n`); // and then nothing more
  await new Promise((r) => setTimeout(r, 200));
  const started = performance.now();
  await other.close();
  assert.ok(performance.now() - started < 3000, `closed in ${Math.round(performance.now() - started)} ms`);
  req.destroy();
});
