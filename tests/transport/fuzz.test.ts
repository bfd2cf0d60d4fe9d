// Seeded fuzzing of both HTTP/2 clients: each case is a TLS peer that answers with a random and
// then mutated sequence of frames (valid-looking responses, flow control, SETTINGS, PING, GOAWAY,
// CONTINUATION, resets, garbage; byte flips, truncation, duplication). Invariants: nothing is
// thrown out of a callback, every request settles in bounded time, memory stays bounded.
// CI runs a fixed set of seeds in bounded time; PF_HEAVY=1 runs many more (PF_FUZZ_SEED=n: one).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Http2Client, Http2Transport, type SendResult } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import {
  F,
  frame,
  type HostilePeer,
  hpack,
  type PeerConnection,
  startHostilePeer,
  T,
  u32,
} from './hostile-peer.ts';

const heavy = process.env.PF_HEAVY === '1';
const only = process.env.PF_FUZZ_SEED === undefined ? undefined : Number(process.env.PF_FUZZ_SEED);
const cases = only !== undefined ? 1 : heavy ? 2000 : 160;
const concurrency = 16;
const requestTimeoutMs = 300;
const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'fuzz' }), 'com.example.fuzz');

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <V>(values: readonly V[]): V => values[int(values.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const statuses = [
  '200',
  '200',
  '200',
  '400',
  '403',
  '410',
  '429',
  '500',
  '503',
  '100',
  '101',
  '99',
  'abc',
  '2000',
  '',
];

/** One random frame, often plausible for the streams the client opened, sometimes not at all. */
function randomFrame(rng: Rng, streams: number[]): Buffer {
  const id = () =>
    rng.next() < 0.8 && streams.length > 0
      ? rng.pick(streams)
      : rng.pick([0, 2, 99, 2 ** 31 - 1, rng.int(64)]);
  switch (rng.int(14)) {
    case 0:
    case 1: {
      const fields: [string, string][] = [[':status', rng.pick(statuses)]];
      if (rng.next() < 0.3) fields.push(['apns-id', 'a'.repeat(rng.int(60))]);
      if (rng.next() < 0.2)
        fields.push([rng.pick([':status', ':path', 'Upper', 'retry-after', 'connection']), '7']);
      if (rng.next() < 0.2) fields.reverse();
      const flags = rng.pick([
        F.endHeaders | F.endStream,
        F.endHeaders,
        F.endStream,
        0,
        F.padded | F.endHeaders,
      ]);
      const block = rng.next() < 0.1 ? Buffer.from([0x88]) : hpack(fields);
      const payload =
        flags & F.padded ? Buffer.concat([Buffer.from([rng.int(4)]), block, Buffer.alloc(2)]) : block;
      return frame(T.headers, flags, id(), payload);
    }
    case 2:
    case 3: {
      const body =
        rng.next() < 0.5
          ? Buffer.from(JSON.stringify({ reason: rng.pick(['BadDeviceToken', 'x', 7]) }))
          : Buffer.alloc(rng.int(20_000), 0x7a);
      const flags = rng.pick([F.endStream, 0, F.padded | F.endStream]);
      const payload = flags & F.padded ? Buffer.concat([Buffer.from([rng.int(300)]), body]) : body;
      return frame(T.data, flags, id(), payload.subarray(0, 16_384));
    }
    case 4:
      return frame(T.cont, rng.pick([0, F.endHeaders]), id(), hpack([['x', 'y']]));
    case 5:
      return frame(T.rst, 0, id(), u32(rng.pick([0, 1, 7, 8, 0xffffffff])));
    case 6: {
      const n = rng.int(4);
      const payload = Buffer.alloc(n * 6 + (rng.next() < 0.05 ? 1 : 0));
      for (let i = 0; i < n; i++) {
        payload.writeUInt16BE(rng.pick([1, 2, 3, 4, 5, 6, 9]), i * 6);
        payload.writeUInt32BE(
          rng.pick([0, 1, 100, 16_383, 16_384, 65_535, 2 ** 24, 2 ** 31 - 1, 2 ** 31]) >>> 0,
          i * 6 + 2,
        );
      }
      return frame(T.settings, rng.next() < 0.1 ? F.ack : 0, rng.next() < 0.05 ? 1 : 0, payload);
    }
    case 7:
      return frame(T.ping, rng.pick([0, F.ack]), 0, Buffer.alloc(rng.next() < 0.05 ? 7 : 8));
    case 8: {
      const last = rng.pick([0, 1, streams.at(-1) ?? 0, 2 ** 31 - 1]);
      return frame(T.goaway, 0, 0, Buffer.concat([u32(last, rng.pick([0, 1, 2, 11])), Buffer.from('fuzz')]));
    }
    case 9:
      return frame(T.window, 0, rng.pick([0, id()]), u32(rng.pick([0, 1, 65_535, 2 ** 31 - 1])));
    case 10:
      return frame(T.push, F.endHeaders, id(), Buffer.concat([u32(2), hpack([[':method', 'GET']])]));
    case 11:
      return frame(2 /* PRIORITY */, 0, id(), Buffer.alloc(5));
    case 12:
      return frame(0x20 + rng.int(200), rng.int(256), id(), Buffer.alloc(rng.int(30)));
    default: {
      const garbage = Buffer.alloc(rng.int(40));
      for (let i = 0; i < garbage.length; i++) garbage[i] = rng.int(256);
      return garbage;
    }
  }
}

/** Byte flips, truncation or duplication of a whole sequence. */
function mutate(rng: Rng, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  const r = rng.next();
  if (r < 0.25)
    for (let i = rng.int(4); i >= 0 && out.length > 0; i--) out[rng.int(out.length)] = rng.int(256);
  else if (r < 0.35) return out.subarray(0, rng.int(out.length + 1));
  else if (r < 0.45) return Buffer.concat([out, out]);
  return out;
}

/** The script of one fuzzed peer connection, from its seed. */
function fuzzScript(seed: number) {
  return (conn: PeerConnection) => {
    const rng = prng(seed);
    const streams: number[] = [];
    if (rng.next() < 0.85)
      conn.write(
        frame(T.settings, 0, 0, Buffer.concat([Buffer.from([0, 3]), u32(rng.pick([0, 1, 5, 100]))])),
      );
    const ending = rng.int(3); // 0: close, 1: silence, 2: answer the rest with 200
    let rounds = 1 + rng.int(3);
    conn.on('frame', (f: { type: number; flags: number }) => {
      if (f.type === T.settings && !(f.flags & F.ack) && rng.next() < 0.9)
        conn.write(frame(T.settings, F.ack, 0));
    });
    conn.on('request', (id: number) => {
      streams.push(id);
      if (rounds <= 0) {
        if (ending === 2)
          conn.write(frame(T.headers, F.endHeaders | F.endStream, id, hpack([[':status', '200']])));
        return;
      }
      rounds--;
      const frames = Array.from({ length: 1 + rng.int(12) }, () => randomFrame(rng, streams));
      conn.write(mutate(rng, Buffer.concat(frames)));
      if (rounds === 0 && ending === 0) setTimeout(() => conn.socket.destroy(), rng.int(50));
    });
  };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const retained = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
process.on('uncaughtException', onUncaught);
const peers: HostilePeer[] = [];
after(async () => {
  process.off('uncaughtException', onUncaught);
  await Promise.all(peers.map((p) => p.close()));
});

async function runCase(seed: number): Promise<void> {
  const client: Http2Client = seed % 2 === 0 ? 'lean' : 'node-http2';
  const peer = await startHostilePeer(fuzzScript(seed));
  const t = new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: peer.port, caPem: peer.caPem },
      connections: { min: 1, max: 2 },
      maxInFlightPerConnection: 4,
      requestTimeoutMs,
    },
    {},
    { client, reconnectBaseMs: 20, reconnectMaxMs: 100, maxResends: 2 },
  );
  const count = 1 + (seed % 6);
  // Bound: a slot wait and a request timeout per attempt, with room for a loaded machine.
  const bound = requestTimeoutMs * 2 * 3 + 2000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const results = await Promise.race([
      t.send(prepared, randomDeviceTokens(count)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`seed ${seed} [${client}]: not settled in ${bound} ms`)),
          bound,
        );
      }),
    ]);
    assert.equal(results.length, count, `seed ${seed}`);
    for (const r of results as SendResult[]) {
      assert.ok(['accepted', 'rejected', 'failed'].includes(r.kind), `seed ${seed}: ${JSON.stringify(r)}`);
      if (r.kind === 'rejected')
        assert.ok(r.status >= 200 && r.status <= 599 && r.status !== 200, `seed ${seed}`);
    }
  } finally {
    clearTimeout(timer);
    await t.close();
    await peer.close();
  }
}

test(`fuzz: ${cases} seeded frame sequences against both clients settle, throw nothing, stay bounded`, async () => {
  const seeds = only !== undefined ? [only] : Array.from({ length: cases }, (_, i) => i + 1);
  const before = retained();
  let peak = before;
  const started = Date.now();
  // A pool of `concurrency` cases in flight at once: a slow case does not hold up the others.
  let nextSeed = 0;
  let done = 0;
  const lane = async () => {
    while (nextSeed < seeds.length) {
      const seed = seeds[nextSeed++]!;
      await runCase(seed);
      assert.deepEqual(uncaught, [], `thrown out of a callback near seed ${seed}`);
      if (++done % 40 === 0) peak = Math.max(peak, retained());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const growthMb = (Math.max(peak, retained()) - before) / 2 ** 20;
  assert.ok(growthMb < 60, `retained memory grew by ${growthMb.toFixed(1)} MB`);
  if (!heavy) assert.ok(Date.now() - started < 60_000, 'CI budget');
});
