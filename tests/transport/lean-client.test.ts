// Protocol corners of Pushfleet's own HTTP/2 client that the simulator does not reach: flow
// control on small windows, padded and CONTINUATION-split responses, server PINGs, and a
// server that lowers its stream limit mid-connection. The server is plain node:http2 (nghttp2).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants, createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { after, before, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { Http2Transport, type SendResult, type TransportTarget } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import { createCertificateAuthority, createServerCertificate } from '../../apps/apns-sim/src/tls-material.ts';

const key = generateProviderKey();
const ca = createCertificateAuthority();
const cert = createServerCertificate(ca);
let server: Http2SecureServer;
let port = 0;
const sessions: ServerHttp2Session[] = [];
let maxConcurrentSeen = 0;
let open = 0;

/** What the next test wants the server to do with each request's body. */
let respond: (body: Buffer, stream: import('node:http2').ServerHttp2Stream) => void = () => {};

before(async () => {
  server = createSecureServer({
    key: cert.keyPem,
    cert: cert.certPem,
    // Tiny stream windows: a 2 KB payload must go out in many DATA frames, each awaiting a
    // WINDOW_UPDATE; padding on every frame the server sends.
    settings: { initialWindowSize: 64, maxConcurrentStreams: 100 },
    paddingStrategy: constants.PADDING_STRATEGY_MAX,
  });
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream) => {
    stream.on('error', () => {}); // streams the client gave up on (refused, past a GOAWAY)
    open++;
    maxConcurrentSeen = Math.max(maxConcurrentSeen, open);
    stream.once('close', () => open--);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => respond(Buffer.concat(chunks), stream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const s of sessions) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function transport(overrides: Partial<TransportTarget> = {}) {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port, caPem: ca.certPem },
      connections: 1,
      maxInFlightPerConnection: 200,
      requestTimeoutMs: 5000,
      ...overrides,
    },
    {},
    { client: 'lean' },
  );
}

const kinds = (results: SendResult[]) =>
  results.reduce<Record<string, number>>((acc, r) => {
    acc[r.kind] = (acc[r.kind] ?? 0) + 1;
    return acc;
  }, {});

test('payloads larger than the windows arrive whole, split by flow control', async () => {
  const prepared = prepareNotification(
    notificationSchema.parse({ alert: 'x'.repeat(2000) }),
    'com.example.lean',
  );
  const expected = createHash('sha256').update(prepared.payload).digest('hex');
  respond = (body, stream) => {
    const ok = createHash('sha256').update(body).digest('hex') === expected;
    stream.respond({ ':status': ok ? 200 : 400 });
    stream.end(ok ? undefined : JSON.stringify({ reason: 'BadPayload' }));
  };
  const t = transport();
  try {
    // 100 × 2 KB is more than the 64 KB connection window too.
    assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(100))), { accepted: 100 });
  } finally {
    await t.close();
  }
});

test('padded responses, and headers split over CONTINUATION frames, decode', async () => {
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  const big = 'v'.repeat(40_000); // > 16 KB: nghttp2 sends HEADERS + CONTINUATION
  let n = 0;
  respond = (_body, stream) => {
    n++;
    if (n % 2 === 0) {
      stream.respond({ ':status': 200, 'apns-id': `id-${n}`, 'x-big': big });
      stream.end();
    } else {
      stream.respond({ ':status': 429, 'retry-after': '3', 'content-type': 'application/json' });
      stream.end(JSON.stringify({ reason: 'TooManyRequests' }));
    }
  };
  const t = transport({ maxInFlightPerConnection: 1 });
  try {
    const results = await t.send(prepared, randomDeviceTokens(6));
    assert.equal(results.filter((r) => r.kind === 'accepted' && r.apnsId?.startsWith('id-')).length, 3);
    for (const r of results.filter((x) => x.kind === 'rejected')) {
      assert.deepEqual(r, { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 3 });
    }
    assert.equal(results.length, 6);
  } finally {
    await t.close();
  }
});

test("answers the server's PING, and follows a stream limit lowered mid-connection", async () => {
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  let held: (() => void) | undefined;
  const arrived = new Promise<void>((resolve) => {
    respond = (_body, stream) => {
      // The first answer is held, so the connection is open and busy while the server PINGs.
      held = () => {
        stream.respond({ ':status': 200 });
        stream.end();
      };
      resolve();
    };
  });
  const t = transport();
  try {
    const first = t.send(prepared, randomDeviceTokens(1));
    await arrived;
    const session = sessions.at(-1)!;
    const pong = await new Promise<boolean>((resolve) => session.ping((err) => resolve(!err)));
    assert.ok(pong, 'the client acknowledged the PING');
    held!();
    assert.deepEqual(kinds(await first), { accepted: 1 });

    await new Promise<void>((resolve) => session.settings({ maxConcurrentStreams: 2 }, () => resolve()));
    maxConcurrentSeen = 0;
    respond = (_body, stream) =>
      setImmediate(() => {
        stream.respond({ ':status': 200 });
        stream.end();
      });
    assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(50))), { accepted: 50 });
    assert.ok(maxConcurrentSeen <= 2, `at most 2 streams open at once, saw ${maxConcurrentSeen}`);
    assert.equal(maxConcurrentSeen, 2, 'and it used both');
  } finally {
    await t.close();
  }
});

test('a server that accepts but never completes the handshake fails the connection in time', async () => {
  const silent = createNetServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as AddressInfo).port;
  const t = transport({
    endpoint: { host: '127.0.0.1', port: silentPort, caPem: ca.certPem },
    requestTimeoutMs: 300,
  });
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  try {
    const started = Date.now();
    await t.warm();
    const [result] = await t.send(prepared, randomDeviceTokens(1));
    assert.equal(result?.kind, 'failed');
    assert.ok(Date.now() - started < 5000, `settled in ${Date.now() - started} ms`);
  } finally {
    await t.close();
    silent.close();
  }
});

test('after a GOAWAY, streams past its last id are re-sent on a new connection, never the old one', async () => {
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  const sessionsBefore = sessions.length;
  const held: import('node:http2').ServerHttp2Stream[] = [];
  respond = (_body, stream) => {
    if (held.length < 3 && stream.session === (held[0]?.session ?? stream.session)) {
      held.push(stream);
      if (held.length === 3) {
        // APNs processed only the first stream, then went away.
        stream.session?.goaway(constants.NGHTTP2_NO_ERROR, held[0]!.id!);
        held[0]!.respond({ ':status': 200 });
        held[0]!.end();
      }
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end();
  };
  const t = transport();
  try {
    assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(3))), { accepted: 3 });
    assert.equal(
      sessions.length - sessionsBefore,
      2,
      'the two unprocessed streams went to a second connection',
    );
  } finally {
    await t.close();
  }
});

test('a server that shrinks its HPACK table gets the size update it requires; unencodable headers fail alone', async () => {
  const tiny = createSecureServer({ key: cert.keyPem, cert: cert.certPem, settings: { headerTableSize: 0 } });
  tiny.on('stream', (stream) => {
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end();
    });
  });
  await new Promise<void>((resolve) => tiny.listen(0, '127.0.0.1', resolve));
  const t = transport({
    endpoint: { host: '127.0.0.1', port: (tiny.address() as AddressInfo).port, caPem: ca.certPem },
  });
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  try {
    assert.deepEqual(kinds(await t.send(prepared, randomDeviceTokens(20))), { accepted: 20 });
    // A header value HTTP/2 cannot carry as bytes (here a collapse id outside Latin-1).
    const bad = { ...prepared, headers: { ...prepared.headers, 'apns-collapse-id': '日本' } };
    const [result] = await t.send(bad, randomDeviceTokens(1));
    assert.equal(result?.kind, 'failed');
    assert.deepEqual(
      kinds(await t.send(prepared, randomDeviceTokens(5))),
      { accepted: 5 },
      'the connection lives on',
    );
  } finally {
    await t.close();
    tiny.close();
  }
});

test('a malformed frame from the server ends the connection with a protocol error, not a crash', async () => {
  // A TLS server that negotiates h2, then sends a SETTINGS frame of 5 bytes (must be a multiple of 6).
  const raw = createTlsServer({ key: cert.keyPem, cert: cert.certPem, ALPNProtocols: ['h2'] }, (socket) => {
    socket.on('error', () => {});
    socket.write(Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]));
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const reasons: string[] = [];
  const t = new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: (raw.address() as AddressInfo).port, caPem: ca.certPem },
      connections: 1,
      maxInFlightPerConnection: 10,
      requestTimeoutMs: 5000,
    },
    { onReconnect: (reason) => reasons.push(reason) },
    { client: 'lean', reconnectBaseMs: 60_000 },
  );
  const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.lean');
  try {
    const [result] = await t.send(prepared, randomDeviceTokens(1));
    assert.notEqual(result?.kind, 'accepted');
    assert.match(reasons[0] ?? '', /protocol error: SETTINGS of 5 bytes/);
  } finally {
    await t.close();
    raw.close();
  }
});
