import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { type SimFixture, startFixture, TOPIC } from './helpers.ts';

/** Opens a TLS connection with a client certificate and collects everything until the server closes. */
function exchange(
  port: number,
  ca: string,
  tls: { certPem: string; keyPem: string } | undefined,
  write?: Buffer,
): Promise<{ data: Buffer; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca,
      servername: 'localhost',
      ...(tls ? { cert: tls.certPem, key: tls.keyPem } : {}),
    });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => {
      if (write) socket.write(write);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => (chunks.length ? undefined : reject(err)));
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), socket }));
  });
}

const token = Buffer.from('00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0', 'hex');
const payload = Buffer.from('{"aps":{}}');

function frame(items: Array<[number, Buffer]>): Buffer {
  const body = Buffer.concat(
    items.map(([id, data]) => {
      const head = Buffer.alloc(3);
      head[0] = id;
      head.writeUInt16BE(data.length, 1);
      return Buffer.concat([head, data]);
    }),
  );
  const head = Buffer.alloc(5);
  head[0] = 2;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

describe('legacy binary interfaces', () => {
  let f: SimFixture;
  let tls: { certPem: string; keyPem: string };
  before(async () => {
    f = await startFixture({ legacyGatewayPort: 0, feedbackPort: 0 });
    tls = (await f.control('POST', '/client-certs', { topics: [TOPIC] })).body;
  });
  after(() => f.close());

  test('the reference example frames are byte-exact (docs/apns-protocol.md §D.1–§D.3)', () => {
    const simple = Buffer.concat([Buffer.from([0, 0, 32]), token, Buffer.from([0, 10]), payload]);
    assert.equal(simple.length, 47);
    const f2 = frame([
      [1, token],
      [2, payload],
      [3, Buffer.from([0, 0, 0, 1])],
      [4, Buffer.alloc(4)],
      [5, Buffer.from([10])],
    ]);
    assert.equal(f2.length, 71);
    assert.equal(f2.subarray(0, 5).toString('hex'), '0200000042');
  });

  test('gateway: good notifications are silent and recorded; the first bad one gets 08 status id, then close', async () => {
    const good1 = Buffer.concat([Buffer.from([0, 0, 32]), token, Buffer.from([0, 10]), payload]);
    const enhanced = Buffer.alloc(11);
    enhanced[0] = 1;
    enhanced.writeUInt32BE(0xdeadbeef, 1);
    enhanced.writeUInt32BE(1700000000, 5);
    enhanced.writeUInt16BE(32, 9);
    const good2 = Buffer.concat([
      enhanced,
      token,
      Buffer.from([0, 10]),
      Buffer.from('{"aps":{"a":1}}'.slice(0, 10)),
    ]);
    const good3 = frame([
      [1, token],
      [2, Buffer.from('{"n":3}')],
      [3, Buffer.from([0, 0, 0, 3])],
      [5, Buffer.from([5])],
    ]);
    const bad = frame([
      [1, token.subarray(0, 31)],
      [2, payload],
      [3, Buffer.from([0xca, 0xfe, 0xba, 0xbe])],
    ]);
    const ignored = frame([
      [1, token],
      [2, Buffer.from('{"n":5}')],
      [3, Buffer.from([0, 0, 0, 5])],
    ]);
    const { data } = await exchange(
      f.sim.gatewayPort!,
      f.sim.caPem,
      tls,
      Buffer.concat([good1, good2, good3, bad, ignored]),
    );
    // Status 5 = invalid token size; the identifier's 4 raw bytes echo back unchanged.
    assert.equal(data.toString('hex'), '0805cafebabe');
    const list = (await f.control('GET', `/deliveries?token=${token.toString('hex')}`)).body;
    assert.equal(list.length, 3);
    assert.deepEqual(list[0].payload, { aps: {} });
    assert.equal(list[1].headers['apns-id'], 'deadbeef');
    assert.equal(list[1].headers['apns-expiration'], '1700000000');
    assert.deepEqual(list[2].payload, { n: 3 });
    assert.equal(list[2].headers['apns-priority'], '5');
    assert.equal(list[2].headers['apns-topic'], TOPIC);
    assert.equal(list[2].via, 'legacy');
  });

  test('gateway status codes: missing token, missing payload, payload size, protocol error', async () => {
    const id = Buffer.from([0, 0, 0, 9]);
    const cases: Array<[Buffer, string]> = [
      [
        frame([
          [2, payload],
          [3, id],
        ]),
        '080200000009',
      ],
      [
        frame([
          [1, token],
          [3, id],
        ]),
        '080400000009',
      ],
      [
        frame([
          [1, token],
          [2, Buffer.alloc(2049, 0x20)],
          [3, id],
        ]),
        '080700000009',
      ],
      [
        frame([
          [1, token],
          [2, payload],
          [3, id],
          [9, Buffer.from([1])],
        ]),
        '088000000009',
      ],
      [
        frame([
          [1, token],
          [2, payload],
          [3, id],
          [5, Buffer.from([7])],
        ]),
        '088000000009',
      ],
    ];
    for (const [bytes, expected] of cases) {
      const { data } = await exchange(f.sim.gatewayPort!, f.sim.caPem, tls, bytes);
      assert.equal(data.toString('hex'), expected);
    }
    // Command 0 has no error response: a bad notification just closes the connection.
    const simpleBad = Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from([0, 10]), payload]);
    assert.equal((await exchange(f.sim.gatewayPort!, f.sim.caPem, tls, simpleBad)).data.length, 0);
  });

  test('gateway Shutdown fault (status 10) names the last good identifier', async () => {
    await f.control('POST', '/faults', { legacyStatus: 10, rate: 0.5, count: 1 });
    const n = (i: number) =>
      frame([
        [1, token],
        [2, Buffer.from(`{"i":${i}}`)],
        [3, Buffer.from([0, 0, 0, i])],
      ]);
    const { data } = await exchange(f.sim.gatewayPort!, f.sim.caPem, tls, Buffer.concat([n(1), n(2), n(3)]));
    assert.equal(data.toString('hex'), '080a00000001');
    await f.control('DELETE', '/faults');
  });

  test('gateway drops connections without a trusted client certificate', async () => {
    const { data } = await exchange(
      f.sim.gatewayPort!,
      f.sim.caPem,
      undefined,
      frame([
        [1, token],
        [2, payload],
      ]),
    );
    assert.equal(data.length, 0);
    const untrusted = (await f.control('POST', '/client-certs', { topics: [TOPIC], untrusted: true })).body;
    const denied = await exchange(
      f.sim.gatewayPort!,
      f.sim.caPem,
      untrusted,
      frame([
        [1, token],
        [2, payload],
      ]),
    );
    assert.equal(denied.data.length, 0);
    const stats = (await f.control('GET', '/stats')).body;
    assert.equal(stats.legacyNotifications, 8);
  });

  test('feedback: tuples of time, length, token; cleared once read; only the certificate topic', async () => {
    const t1 = '00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0';
    const t2 = 'ab'.repeat(32);
    await f.control('POST', '/devices/unregister', { token: t1, topic: TOPIC, timestamp: 1700000000999 });
    await f.control('POST', '/devices/unregister', { token: t2, topic: TOPIC, timestamp: 1700000100000 });
    await f.control('POST', '/devices/unregister', { token: 'cd'.repeat(32), topic: 'com.example.other' });
    const { data } = await exchange(f.sim.feedbackPort!, f.sim.caPem, tls);
    assert.equal(data.toString('hex'), `6553f1000020${t1}6553f1640020${t2}`);
    assert.equal((await exchange(f.sim.feedbackPort!, f.sim.caPem, tls)).data.length, 0);
  });
});
