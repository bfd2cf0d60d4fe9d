import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ClientHttp2Session, Settings } from 'node:http2';
import { describe, test } from 'node:test';
import { randomToken, send, startFixture } from './helpers.ts';

/** Resolves with the first remote SETTINGS that satisfies `pred` (the current one included). */
function settingsWhere(s: ClientHttp2Session, pred: (settings: Settings) => boolean): Promise<Settings> {
  if (s.remoteSettings && pred(s.remoteSettings)) return Promise.resolve(s.remoteSettings);
  return new Promise((resolve) => {
    const listener = (settings: Settings) => {
      if (!pred(settings)) return;
      s.off('remoteSettings', listener);
      resolve(settings);
    };
    s.on('remoteSettings', listener);
  });
}

function goaway(s: ClientHttp2Session): Promise<{ code: number; last: number; debug: unknown }> {
  return once(s, 'goaway').then(([code, last, data]) => ({
    code: code as number,
    last: last as number,
    debug: data ? JSON.parse((data as Buffer).toString('utf8')) : undefined,
  }));
}

describe('connection behaviour', () => {
  test('token connections start at 1 stream, then get the configured limit', async () => {
    const f = await startFixture({ maxConcurrentStreams: 250, tokenInitialStreams: 1 });
    try {
      const s = await f.connect();
      assert.equal(s.remoteSettings.maxConcurrentStreams, 1);
      assert.equal(s.remoteSettings.headerTableSize, 4096);
      assert.equal(s.remoteSettings.maxHeaderListSize, 8000);
      const raised = settingsWhere(s, (x) => x.maxConcurrentStreams === 250);
      assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
      await raised;
    } finally {
      await f.close();
    }
  });

  test('a failed authentication keeps the limit at 1; by default connections start at the limit', async () => {
    const f = await startFixture({ maxConcurrentStreams: 300 });
    const g = await startFixture({ maxConcurrentStreams: 300, tokenInitialStreams: 1 });
    try {
      const s = await f.connect();
      assert.equal(s.remoteSettings.maxConcurrentStreams, 300);
      const t = await g.connect();
      assert.equal((await send(t, randomToken(), { authorization: 'bearer x.y.z' })).status, 403);
      assert.equal((await send(t, randomToken(), {})).status, 403);
      assert.equal(t.remoteSettings.maxConcurrentStreams, 1);
    } finally {
      await g.close();
      await f.close();
    }
  });

  test('drop to 1 after a rejection, restore after a success', async () => {
    const f = await startFixture({ dropToOneAfterRejection: true, maxConcurrentStreams: 100 });
    try {
      const s = await f.connect();
      await send(s, randomToken(), { authorization: f.bearer });
      await settingsWhere(s, (x) => x.maxConcurrentStreams === 100);
      const dropped = settingsWhere(s, (x) => x.maxConcurrentStreams === 1);
      assert.equal((await send(s, 'bad', { authorization: f.bearer })).status, 400);
      await dropped;
      const restored = settingsWhere(s, (x) => x.maxConcurrentStreams === 100);
      assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
      await restored;
      // A 410 is not an error condition, so it does not drop the limit.
      const token = randomToken();
      await f.control('POST', '/devices/unregister', { token, topic: 'com.example.app' });
      assert.equal((await send(s, token, { authorization: f.bearer })).status, 410);
      assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
      assert.equal(s.remoteSettings.maxConcurrentStreams, 100);
    } finally {
      await f.close();
    }
  });

  test('fault maxConcurrentStreams sends SETTINGS to open connections and applies to new ones', async () => {
    const f = await startFixture();
    try {
      const s = await f.connect();
      await send(s, randomToken(), { authorization: f.bearer });
      const changed = settingsWhere(s, (x) => x.maxConcurrentStreams === 7);
      await f.control('POST', '/faults', { maxConcurrentStreams: 7 });
      await changed;
      const s2 = await f.connect();
      await settingsWhere(s2, (x) => x.maxConcurrentStreams === 7);
      const back = settingsWhere(s, (x) => x.maxConcurrentStreams === 1000);
      await f.control('DELETE', '/faults');
      await back;
    } finally {
      await f.close();
    }
  });

  test('GOAWAY after N streams with JSON debug data; later streams refused and not delivered', async () => {
    const f = await startFixture();
    try {
      const s = await f.connect();
      await send(s, randomToken(), { authorization: f.bearer });
      await f.control('POST', '/faults', { goawayAfter: 2, reason: 'Shutdown' });
      const away = goaway(s);
      assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
      assert.equal((await send(s, randomToken(), { authorization: f.bearer })).status, 200);
      const g = await away;
      assert.deepEqual(g.debug, { reason: 'Shutdown' });
      assert.equal(g.code, 0);
      assert.equal(g.last, 5);
      await once(s, 'close');
      const stats = await f.control('GET', '/stats');
      assert.equal(stats.body.accepted, 3);
      assert.equal(stats.body.goaways, 1);
    } finally {
      await f.close();
    }
  });

  test('GOAWAY IdleTimeout after the idle period; PING is answered', async () => {
    const f = await startFixture({ idleTimeoutMs: 150 });
    try {
      const s = await f.connect();
      const pong = await new Promise<number>((resolve, reject) =>
        s.ping((err, duration) => (err ? reject(err) : resolve(duration))),
      );
      assert.ok(pong >= 0);
      const g = await goaway(s);
      assert.deepEqual(g.debug, { reason: 'IdleTimeout' });
    } finally {
      await f.close();
    }
  });

  test('close() sends GOAWAY Shutdown to open connections', async () => {
    const f = await startFixture();
    const s = await f.connect();
    await send(s, randomToken(), { authorization: f.bearer });
    const g = goaway(s);
    await f.sim.close();
    assert.deepEqual((await g).debug, { reason: 'Shutdown' });
    await f.close();
  });
});
