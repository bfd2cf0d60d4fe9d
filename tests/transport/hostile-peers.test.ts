// Both HTTP/2 clients against scripted hostile peers (raw frames over TLS, tests/transport/
// hostile-peer.ts): memory stays bounded, RFC 9113 connection errors end the connection,
// malformed answers are retryable failures, and every request settles in bounded time.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Http2Client, Http2Transport, type SendResult, type TransportTarget } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import {
  answerAll,
  F,
  frame,
  greet,
  type HostilePeer,
  headers,
  hpack,
  type PeerConnection,
  settings,
  startHostilePeer,
  T,
  u32,
} from './hostile-peer.ts';

const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.hostile');
const clients: Http2Client[] = ['lean', 'node-http2'];
const peers: HostilePeer[] = [];
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

async function peer(
  script: (conn: PeerConnection, index: number) => void,
  options = {},
): Promise<HostilePeer> {
  let n = 0;
  const p = await startHostilePeer((conn) => script(conn, n++), options);
  peers.push(p);
  return p;
}

function transport(
  p: HostilePeer,
  client: Http2Client,
  overrides: Partial<TransportTarget> = {},
  reasons: string[] = [],
) {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: p.port, caPem: p.caPem },
      connections: 1,
      maxInFlightPerConnection: 50,
      requestTimeoutMs: 1000,
      ...overrides,
    },
    { onReconnect: (reason) => reasons.push(reason) },
    { client, reconnectBaseMs: 50, reconnectMaxMs: 200 },
  );
}

const kinds = (results: SendResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => {
    acc[r.kind] = (acc[r.kind] ?? 0) + 1;
    return acc;
  }, {});

/** The GOAWAY error codes a peer connection received from the client. */
const goawayCodes = (conn: PeerConnection | undefined) =>
  (conn?.sent(T.goaway) ?? []).map((f) => f.payload.readUInt32BE(4));

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Memory retained (after a full GC) at its peak while `run` runs, above what was retained before. */
async function heapGrowth<T>(run: () => Promise<T>): Promise<{ value: T; growthMb: number }> {
  const retained = () => {
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const before = retained();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, retained());
  }, 50);
  try {
    const value = await run();
    peak = Math.max(peak, retained());
    return { value, growthMb: (peak - before) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

const waitUntil = async (what: string, check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// ---------------------------------------------------------------- memory

for (const client of clients) {
  test(`[${client}] a flood of empty CONTINUATION frames ends the connection; memory stays bounded`, async () => {
    const p = await peer((conn) => {
      greet(conn);
      conn.once('request', (id: number) => {
        conn.write(frame(T.headers, 0, id, hpack([[':status', '200']])));
        const empty = frame(T.cont, 0, id);
        const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => empty));
        // 1.5 million frames, written as the client reads them.
        let left = 150;
        const pump = () => {
          while (left > 0 && !conn.socket.destroyed) {
            left--;
            if (!conn.write(chunk)) return void conn.socket.once('drain', pump);
          }
        };
        pump();
      });
    });
    const reasons: string[] = [];
    const t = transport(p, client, {}, reasons);
    try {
      const { value, growthMb } = await heapGrowth(() => t.send(prepared, randomDeviceTokens(1)));
      assert.equal(value[0]?.kind, 'failed');
      assert.ok(growthMb < 40, `memory grew by ${growthMb.toFixed(1)} MB`);
      if (client === 'lean') {
        assert.match(reasons[0] ?? '', /header block in over 32 frames/);
        await waitUntil('GOAWAY', () => goawayCodes(p.connections[0]).length > 0);
        assert.deepEqual(goawayCodes(p.connections[0]), [1]);
      }
    } finally {
      await t.close();
    }
  });

  test(`[${client}] PINGs from a peer that never reads: answers are not queued without bound`, async () => {
    let flooded = false;
    const p = await peer((conn) => {
      greet(conn);
      conn.once('request', () => {
        conn.socket.pause(); // never reads again
        const ping = frame(T.ping, 0, 0, Buffer.alloc(8));
        const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => ping));
        let left = 150; // 1.5 million PINGs
        const pump = () => {
          while (left > 0 && !conn.socket.destroyed) {
            left--;
            if (!conn.write(chunk)) return void conn.socket.once('drain', pump);
          }
          flooded = true;
        };
        pump();
      });
    });
    const reasons: string[] = [];
    const t = transport(p, client, { requestTimeoutMs: 3000 }, reasons);
    try {
      const { value, growthMb } = await heapGrowth(async () => {
        const results = await t.send(prepared, randomDeviceTokens(1));
        await waitUntil('the connection to end', () => reasons.length > 0 || flooded, 20_000);
        return results;
      });
      assert.equal(value[0]?.kind, 'failed');
      assert.ok(growthMb < 40, `memory grew by ${growthMb.toFixed(1)} MB`);
      if (client === 'lean')
        assert.match(reasons[0] ?? '', /control frames from a server that does not read/);
    } finally {
      await t.close();
    }
  });

  test(`[${client}] huge error bodies are cut, not buffered whole`, async () => {
    const p = await peer((conn) => {
      greet(conn);
      // 20 MB on each of six streams, ignoring flow control, as fast as the client reads.
      const streams: number[] = [];
      conn.on('request', (id: number) => {
        conn.write(headers(id, [[':status', '400']], false));
        streams.push(id);
        if (streams.length < 6) return;
        let left = 20 * 64 * streams.length;
        const pump = () => {
          while (left > 0 && !conn.socket.destroyed) {
            left--;
            const chunk = frame(T.data, 0, streams[left % streams.length]!, Buffer.alloc(16_384, 0x61));
            if (!conn.write(chunk)) return void conn.socket.once('drain', pump);
          }
        };
        pump();
      });
    });
    // A long request timeout: a client that buffers bodies whole has time to take all 120 MB.
    const t = transport(p, client, { requestTimeoutMs: 30_000 });
    try {
      const { value, growthMb } = await heapGrowth(() => t.send(prepared, randomDeviceTokens(6)));
      assert.equal(value.length, 6);
      for (const r of value) assert.ok(r.kind !== 'accepted', JSON.stringify(r));
      assert.ok(growthMb < 40, `memory grew by ${growthMb.toFixed(1)} MB`);
    } finally {
      await t.close();
    }
  });
}

test('[lean] an error body longer than APNs ever sends is cut at 4 KB, and the stream reset', async () => {
  const body = Buffer.from(JSON.stringify({ reason: 'BadDeviceToken', padding: 'x'.repeat(10_000) }));
  const p = await peer((conn) => {
    greet(conn);
    conn.on('request', (id: number) => {
      conn.write(headers(id, [[':status', '400']], false));
      for (let at = 0; at < body.length; at += 4000) {
        const last = at + 4000 >= body.length;
        conn.write(frame(T.data, last ? F.endStream : 0, id, body.subarray(at, at + 4000)));
      }
    });
  });
  const t = transport(p, 'lean');
  try {
    const [result] = await t.send(prepared, randomDeviceTokens(1));
    // Whole, the body would have parsed to BadDeviceToken; cut, only the status remains.
    assert.deepEqual(result, { kind: 'rejected', status: 400, reason: 'HTTP400' });
    await waitUntil('RST_STREAM', () => (p.connections[0]?.sent(T.rst).length ?? 0) > 0);
    assert.equal(p.connections[0]!.sent(T.rst)[0]!.payload.readUInt32BE(0), 8, 'CANCEL');
  } finally {
    await t.close();
  }
});

// ---------------------------------------------------------------- RFC 9113 connection errors (lean)

const connectionErrors: {
  name: string;
  code: number;
  misbehave: (conn: PeerConnection, id: number) => void;
}[] = [
  {
    name: 'WINDOW_UPDATE overflowing the connection window',
    code: 3,
    misbehave: (conn) => conn.write(frame(T.window, 0, 0, u32(2 ** 31 - 1))),
  },
  {
    name: 'WINDOW_UPDATE overflowing a stream window',
    code: 3,
    misbehave: (conn, id) => conn.write(frame(T.window, 0, id, u32(2 ** 31 - 1))),
  },
  {
    name: 'SETTINGS_INITIAL_WINDOW_SIZE 2^31',
    code: 3,
    misbehave: (conn) => conn.write(settings([[4, 2 ** 31]])),
  },
  {
    name: 'SETTINGS_MAX_FRAME_SIZE 16383',
    code: 1,
    misbehave: (conn) => conn.write(settings([[5, 16_383]])),
  },
  {
    name: 'SETTINGS_MAX_FRAME_SIZE 2^24',
    code: 1,
    misbehave: (conn) => conn.write(settings([[5, 2 ** 24]])),
  },
  {
    name: 'SETTINGS_ENABLE_PUSH 1 from a server',
    code: 1,
    misbehave: (conn) => conn.write(settings([[2, 1]])),
  },
  {
    name: 'DATA on a stream never opened',
    code: 1,
    misbehave: (conn, id) => conn.write(frame(T.data, 0, id + 98, Buffer.from('x'))),
  },
  {
    name: 'HEADERS on a stream never opened',
    code: 1,
    misbehave: (conn, id) => conn.write(headers(id + 98, [[':status', '200']])),
  },
  {
    name: 'RST_STREAM on a stream never opened',
    code: 1,
    misbehave: (conn, id) => conn.write(frame(T.rst, 0, id + 98, u32(8))),
  },
  {
    name: 'a header block that is not HPACK',
    code: 9,
    misbehave: (conn, id) =>
      conn.write(frame(T.headers, F.endHeaders | F.endStream, id, Buffer.from([0x80]))),
  },
];

for (const { name, code, misbehave } of connectionErrors) {
  test(`[lean] ${name}: connection error ${code}, requests settle, the next connection works`, async () => {
    const p = await peer((conn, index) => {
      greet(conn);
      if (index === 0) conn.once('request', (id: number) => misbehave(conn, id));
      else answerAll(conn);
    });
    const reasons: string[] = [];
    const t = transport(p, 'lean', {}, reasons);
    try {
      const [first] = await t.send(prepared, randomDeviceTokens(1));
      assert.equal(first?.kind, 'failed', JSON.stringify(first));
      await waitUntil('GOAWAY', () => goawayCodes(p.connections[0]).length > 0);
      assert.deepEqual(goawayCodes(p.connections[0]), [code]);
      assert.match(reasons[0] ?? '', /error/);
      assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(3))), { accepted: 3 });
    } finally {
      await t.close();
    }
  });
}

test("[lean] a peer's RST_STREAM(REFUSED_STREAM) on a half-sent stream is never answered with RST_STREAM", async () => {
  const big = prepareNotification(
    notificationSchema.parse({ alert: 'x'.repeat(1000) }),
    'com.example.hostile',
  );
  let refusedId = 0;
  const p = await peer((conn) => {
    // A 100-byte stream window: once SETTINGS are in, a 1 KB payload goes out in part, then waits.
    greet(conn, [
      [3, 100],
      [4, 100],
    ]);
    conn.on('frame', (f: { type: number; id: number; flags: number }) => {
      if (f.type === T.headers && f.id > 1 && refusedId === 0) {
        refusedId = f.id;
        setTimeout(() => {
          conn.write(frame(T.rst, 0, f.id, u32(7)));
          conn.write(settings([[4, 65_535]])); // the re-send may go whole
        }, 50);
      }
    });
    answerAll(conn);
  });
  const t = transport(p, 'lean');
  try {
    // The first request goes before the server's SETTINGS (one stream): it warms the connection.
    assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(1))), { accepted: 1 });
    const [result] = await t.send(big, randomDeviceTokens(1));
    assert.equal(result?.kind, 'accepted', 'the refused stream was re-sent and answered');
    const conn = p.connections[0]!;
    const partial = conn.received.filter((f) => f.type === T.data && f.id === refusedId);
    assert.ok(
      partial.length > 0 && partial.every((f) => !(f.flags & F.endStream)),
      'the stream was half-sent',
    );
    const resets = conn.sent(T.rst).filter((f) => f.id === refusedId);
    assert.deepEqual(resets, [], 'no RST_STREAM for the stream the peer reset');
  } finally {
    await t.close();
  }
});

// ---------------------------------------------------------------- malformed responses (both)

const malformedAnswers: { name: string; answer: (conn: PeerConnection, id: number) => void }[] = [
  { name: ':status abc', answer: (conn, id) => conn.write(headers(id, [[':status', 'abc']])) },
  {
    name: 'two :status fields (410, then 200)',
    answer: (conn, id) =>
      conn.write(
        headers(id, [
          [':status', '410'],
          [':status', '200'],
        ]),
      ),
  },
  {
    name: 'a 410 head, then a second head with :status 200',
    answer: (conn, id) => {
      conn.write(headers(id, [[':status', '410']], false));
      conn.write(headers(id, [[':status', '200']], true));
    },
  },
];

for (const client of clients) {
  for (const { name, answer } of malformedAnswers) {
    test(`[${client}] ${name}: a retryable failure, never an answer; a fresh connection follows`, async () => {
      const p = await peer((conn, index) => {
        greet(conn);
        if (index === 0) conn.once('request', (id: number) => answer(conn, id));
        else answerAll(conn);
      });
      const t = transport(p, client);
      try {
        const [result] = await t.send(prepared, randomDeviceTokens(1));
        assert.equal(result?.kind, 'failed', JSON.stringify(result));
        assert.doesNotMatch(JSON.stringify(result), /NaN/);
        const next = await t.send(prepared, randomDeviceTokens(3));
        assert.deepEqual(kinds(next), { accepted: 3 });
      } finally {
        await t.close();
      }
    });
  }
}

// ---------------------------------------------------------------- every request settles (both)

const silentServers: {
  name: string;
  script: (conn: PeerConnection) => void;
  options?: { alpn?: boolean };
}[] = [
  { name: 'a server advertising 0 concurrent streams', script: (conn) => greet(conn, [[3, 0]]) },
  { name: 'a server that completes TLS, then says nothing', script: () => {} },
  { name: 'a server that negotiates no ALPN h2', script: () => {}, options: { alpn: false } },
];

for (const client of clients) {
  for (const { name, script, options } of silentServers) {
    test(`[${client}] ${name}: all 40 requests settle in bounded time`, async () => {
      const p = await peer(script, options);
      const t = transport(p, client, { requestTimeoutMs: 500 });
      try {
        const started = Date.now();
        const results = await t.send(prepared, randomDeviceTokens(40));
        const took = Date.now() - started;
        assert.equal(results.length, 40);
        assert.deepEqual(kinds(results), { failed: 40 });
        // Request timeout + the wait for a slot, with room for a slow machine.
        assert.ok(took < 3000, `settled in ${took} ms`);
        assert.ok(p.connections.length <= 20, `${p.connections.length} connections, not a reconnect storm`);
      } finally {
        await t.close();
      }
    });
  }
}

// ---------------------------------------------------------------- recovery (both)

for (const client of clients) {
  test(`[${client}] after the client detects a connection error itself, it recovers on a fresh connection`, async () => {
    const p = await peer((conn, index) => {
      greet(conn);
      if (index > 0) return answerAll(conn);
      conn.once('request', (id: number) => {
        conn.write(headers(id, [[':status', '200']]));
        // DATA on a stream the client never opened: nghttp2 sends GOAWAY, node:http2 keeps quiet.
        conn.write(frame(T.data, 0, id + 98, Buffer.from('x')));
        answerAll(conn);
      });
    });
    const t = transport(p, client, { requestTimeoutMs: 500 });
    try {
      assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(1))), { accepted: 1 });
      // Sends go on until one is accepted: the connection must be replaced, not stay wedged.
      const started = Date.now();
      let accepted = false;
      while (!accepted && Date.now() - started < 6000) {
        accepted = (await t.send(prepared, randomDeviceTokens(1)))[0]?.kind === 'accepted';
      }
      assert.ok(accepted, 'a later send was accepted');
      assert.ok(p.connections.length >= 2, 'on a new connection');
    } finally {
      await t.close();
    }
  });
}
