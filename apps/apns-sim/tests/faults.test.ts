import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { randomToken, type SimFixture, send, startFixture } from './helpers.ts';

describe('fault injection', () => {
  let f: SimFixture;
  before(async () => {
    f = await startFixture();
  });
  beforeEach(async () => {
    await f.control('DELETE', '/faults');
  });
  after(() => f.close());

  const sendMany = async (n: number, token?: string) => {
    const s = await f.connect();
    const out = [];
    for (let i = 0; i < n; i++) out.push(await send(s, token ?? randomToken(), { authorization: f.bearer }));
    s.close();
    return out;
  };

  test('minimal form: every request fails with 503 ServiceUnavailable; DELETE clears', async () => {
    const added = await f.control('POST', '/faults', { status: 503, reason: 'ServiceUnavailable', rate: 1 });
    assert.equal(added.status, 201);
    const [res] = await sendMany(1);
    assert.equal(res!.status, 503);
    assert.deepEqual(res!.body, { reason: 'ServiceUnavailable' });
    await f.control('DELETE', '/faults');
    assert.equal((await sendMany(1))[0]!.status, 200);
  });

  test('rate is an exact fraction: 0.25 fails every 4th request', async () => {
    await f.control('POST', '/faults', { status: 500, reason: 'InternalServerError', rate: 0.25 });
    const statuses = (await sendMany(12)).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 500).length, 3);
    assert.deepEqual(statuses.slice(0, 4), [200, 200, 200, 500]);
  });

  test('per-token 429 storm with retry-after, limited by count; other tokens unaffected', async () => {
    const token = randomToken();
    await f.control('POST', '/faults', {
      status: 429,
      reason: 'TooManyRequests',
      token,
      count: 3,
      retryAfter: 7,
    });
    const s = await f.connect();
    assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
    for (let i = 0; i < 3; i++) {
      const res = await send(s, token, { authorization: f.bearer });
      assert.equal(res.status, 429);
      assert.equal(res.headers['retry-after'], '7');
      assert.deepEqual(res.body, { reason: 'TooManyRequests' });
    }
    assert.equal((await send(s, token, { authorization: f.bearer })).status, 200);
    const faults = await f.control('GET', '/faults');
    assert.deepEqual(faults.body, []);
  });

  test('410 fault carries the given timestamp', async () => {
    await f.control('POST', '/faults', {
      status: 410,
      reason: 'Unregistered',
      timestamp: 1234567890123,
      count: 1,
    });
    const [res] = await sendMany(1);
    assert.deepEqual(res!.body, { reason: 'Unregistered', timestamp: 1234567890123 });
  });

  test('latencyMs delays answers (alone, without a status)', async () => {
    await f.control('POST', '/faults', { latencyMs: 120 });
    const s = await f.connect();
    const started = performance.now();
    assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
    assert.ok(performance.now() - started >= 110);
  });

  test('reset: connection drops every stream on it; nothing is recorded', async () => {
    await f.control('POST', '/faults', { reset: true, count: 1 });
    const s = await f.connect();
    const token = randomToken();
    const closed = new Promise((resolve) => s.on('close', resolve));
    await assert.rejects(send(s, token, { authorization: f.bearer }));
    await closed;
    assert.deepEqual((await f.control('GET', `/deliveries?token=${token}`)).body, []);
    assert.equal((await sendMany(1, token))[0]!.status, 200);
  });

  test("reset: 'stream' resets only that stream", async () => {
    await f.control('POST', '/faults', { reset: 'stream', count: 1 });
    const s = await f.connect();
    await assert.rejects(
      send(s, randomToken(), { authorization: f.bearer }),
      /RST_STREAM|INTERNAL_ERROR|code 2/,
    );
    assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
  });

  test('slow TLS handshake', async () => {
    await f.control('POST', '/faults', { tlsHandshakeDelayMs: 200 });
    const started = performance.now();
    const s = await f.connect();
    assert.ok(performance.now() - started >= 190);
    assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
  });

  test('durationMs expires a fault', async () => {
    const clock = { now: Date.now() };
    const g = await startFixture({ now: () => clock.now });
    try {
      await g.control('POST', '/faults', { status: 503, reason: 'ServiceUnavailable', durationMs: 1000 });
      const s = await g.connect();
      assert.equal((await send(s, randomToken(), { authorization: g.bearer })).status, 503);
      clock.now += 1001;
      assert.equal((await send(s, randomToken(), { authorization: g.bearer })).status, 200);
    } finally {
      await g.close();
    }
  });

  test('invalid faults are refused with 400', async () => {
    assert.equal((await f.control('POST', '/faults', { status: 503 })).status, 400);
    assert.equal((await f.control('POST', '/faults', { rate: 2, status: 503, reason: 'X' })).status, 400);
    assert.equal((await f.control('POST', '/faults', { bogus: 1 })).status, 400);
  });
});

describe('exactly-once observation', () => {
  test('duplicates by apns-id or payload are counted', async () => {
    const f = await startFixture();
    try {
      const s = await f.connect();
      const token = randomToken();
      const id = '11111111-2222-4333-8444-555555555555';
      await send(s, token, { authorization: f.bearer, 'apns-id': id }, '{"aps":{"alert":"a"}}');
      await send(s, token, { authorization: f.bearer }, '{"aps":{"alert":"b"}}');
      await send(s, token, { authorization: f.bearer, 'apns-id': id }, '{"aps":{"alert":"c"}}');
      await send(s, token, { authorization: f.bearer }, '{"aps":{"alert":"b"}}');
      await send(s, randomToken(), { authorization: f.bearer }, '{"aps":{"alert":"a"}}');
      const stats = await f.control('GET', '/stats');
      assert.equal(stats.body.deliveriesTotal, 5);
      assert.equal(stats.body.duplicates, 2);
      const summary = await f.control('GET', '/deliveries/summary');
      assert.deepEqual(summary.body, { tokens: 2, deliveries: 5, duplicateTokens: 1, duplicates: 2 });
      const list = await f.control('GET', `/deliveries?token=${token.toUpperCase()}`);
      assert.deepEqual(
        list.body.map((d: { payload: { aps: { alert: string } } }) => d.payload.aps.alert),
        ['a', 'b', 'c', 'b'],
      );
      await f.control('POST', '/reset');
      assert.deepEqual((await f.control('GET', '/deliveries/summary')).body, {
        tokens: 0,
        deliveries: 0,
        duplicateTokens: 0,
        duplicates: 0,
      });
    } finally {
      await f.close();
    }
  });
});
