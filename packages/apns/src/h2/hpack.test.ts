import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, test } from 'node:test';
import { encodeIndexed, encodeInteger, encodeLiteral, HpackDecoder, HpackError } from './hpack.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const fields = (lines: string[]) =>
  lines.map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]);

/**
 * The dynamic table, newest first, read back through the public API: indexed fields (§6.1) don't
 * change the table, so we decode 62, 63, ... until the decoder says the index is beyond it.
 */
function dynamicTable(decoder: HpackDecoder): string[] {
  const entries: string[] = [];
  for (let index = 62; index < 200; index++) {
    try {
      const [name, value] = decoder.decode(encodeInteger(index, 7, 0x80))[0]!;
      entries.push(`${name}: ${value}`);
    } catch (error) {
      assert.ok(error instanceof HpackError);
      return entries;
    }
  }
  throw new Error('dynamic table never ended');
}

/** One step of an RFC 7541 Appendix C example: encoded block, decoded list, table afterwards. */
interface Step {
  block: string;
  headers: string[];
  table: string[];
}

function runSteps(decoder: HpackDecoder, steps: Step[]): void {
  for (const [i, step] of steps.entries()) {
    assert.deepEqual(decoder.decode(hex(step.block)), fields(step.headers), `block ${i + 1}`);
    assert.deepEqual(dynamicTable(decoder), step.table, `table after block ${i + 1}`);
  }
}

const request1 = [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'];
const request2 = [...request1, 'cache-control: no-cache'];
const request3 = [
  ':method: GET',
  ':scheme: https',
  ':path: /index.html',
  ':authority: www.example.com',
  'custom-key: custom-value',
];
const requestTables = [
  [':authority: www.example.com'],
  ['cache-control: no-cache', ':authority: www.example.com'],
  ['custom-key: custom-value', 'cache-control: no-cache', ':authority: www.example.com'],
];

const date21 = 'date: Mon, 21 Oct 2013 20:13:21 GMT';
const date22 = 'date: Mon, 21 Oct 2013 20:13:22 GMT';
const location = 'location: https://www.example.com';
const cookie = 'set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const response1 = [':status: 302', 'cache-control: private', date21, location];
const response2 = [':status: 307', 'cache-control: private', date21, location];
const response3 = [
  ':status: 200',
  'cache-control: private',
  date22,
  location,
  'content-encoding: gzip',
  cookie,
];
const responseTables = [
  [location, date21, 'cache-control: private', ':status: 302'],
  // Adding :status 307 evicted :status 302 (table size 256).
  [':status: 307', location, date21, 'cache-control: private'],
  ['set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1', 'content-encoding: gzip', date22],
];

describe('RFC 7541 Appendix C', () => {
  test('C.2 single representations', () => {
    const literalIndexed = new HpackDecoder();
    const block = '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572';
    assert.deepEqual(literalIndexed.decode(hex(block)), [['custom-key', 'custom-header']]);
    assert.deepEqual(dynamicTable(literalIndexed), ['custom-key: custom-header']);

    const withoutIndexing = new HpackDecoder();
    assert.deepEqual(withoutIndexing.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [
      [':path', '/sample/path'],
    ]);
    assert.deepEqual(dynamicTable(withoutIndexing), []);

    const neverIndexed = new HpackDecoder();
    const secret = '1008 7061 7373 776f 7264 0673 6563 7265 74';
    assert.deepEqual(neverIndexed.decode(hex(secret)), [['password', 'secret']]);
    assert.deepEqual(dynamicTable(neverIndexed), []);

    assert.deepEqual(new HpackDecoder().decode(hex('82')), [[':method', 'GET']]);
  });

  test('C.3 requests without Huffman coding', () => {
    runSteps(new HpackDecoder(), [
      {
        block: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        headers: request1,
        table: requestTables[0]!,
      },
      { block: '8286 84be 5808 6e6f 2d63 6163 6865', headers: request2, table: requestTables[1]! },
      {
        block: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
        headers: request3,
        table: requestTables[2]!,
      },
    ]);
  });

  test('C.4 requests with Huffman coding', () => {
    runSteps(new HpackDecoder(), [
      { block: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', headers: request1, table: requestTables[0]! },
      { block: '8286 84be 5886 a8eb 1064 9cbf', headers: request2, table: requestTables[1]! },
      {
        block: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
        headers: request3,
        table: requestTables[2]!,
      },
    ]);
  });

  test('C.5 responses without Huffman coding, evicting from a 256-octet table', () => {
    runSteps(new HpackDecoder(256), [
      {
        block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                6c65 2e63 6f6d`,
        headers: response1,
        table: responseTables[0]!,
      },
      { block: '4803 3330 37c1 c0bf', headers: response2, table: responseTables[1]! },
      {
        block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                3d31`,
        headers: response3,
        table: responseTables[2]!,
      },
    ]);
  });

  test('C.6 responses with Huffman coding, evicting from a 256-octet table', () => {
    runSteps(new HpackDecoder(256), [
      {
        block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        headers: response1,
        table: responseTables[0]!,
      },
      { block: '4883 640e ffc1 c0bf', headers: response2, table: responseTables[1]! },
      {
        block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
        headers: response3,
        table: responseTables[2]!,
      },
    ]);
  });
});

/** RFC 7541 Appendix B as printed: "code as hex (LSB-aligned)/length in bits", symbols 0..256. */
const rfcHuffmanCodes = `
1ff8/13 7fffd8/23 fffffe2/28 fffffe3/28 fffffe4/28 fffffe5/28 fffffe6/28 fffffe7/28
fffffe8/28 ffffea/24 3ffffffc/30 fffffe9/28 fffffea/28 3ffffffd/30 fffffeb/28 fffffec/28
fffffed/28 fffffee/28 fffffef/28 ffffff0/28 ffffff1/28 ffffff2/28 3ffffffe/30 ffffff3/28
ffffff4/28 ffffff5/28 ffffff6/28 ffffff7/28 ffffff8/28 ffffff9/28 ffffffa/28 ffffffb/28
14/6 3f8/10 3f9/10 ffa/12 1ff9/13 15/6 f8/8 7fa/11
3fa/10 3fb/10 f9/8 7fb/11 fa/8 16/6 17/6 18/6
0/5 1/5 2/5 19/6 1a/6 1b/6 1c/6 1d/6
1e/6 1f/6 5c/7 fb/8 7ffc/15 20/6 ffb/12 3fc/10
1ffa/13 21/6 5d/7 5e/7 5f/7 60/7 61/7 62/7
63/7 64/7 65/7 66/7 67/7 68/7 69/7 6a/7
6b/7 6c/7 6d/7 6e/7 6f/7 70/7 71/7 72/7
fc/8 73/7 fd/8 1ffb/13 7fff0/19 1ffc/13 3ffc/14 22/6
7ffd/15 3/5 23/6 4/5 24/6 5/5 25/6 26/6
27/6 6/5 74/7 75/7 28/6 29/6 2a/6 7/5
2b/6 76/7 2c/6 8/5 9/5 2d/6 77/7 78/7
79/7 7a/7 7b/7 7ffe/15 7fc/11 3ffd/14 1ffd/13 ffffffc/28
fffe6/20 3fffd2/22 fffe7/20 fffe8/20 3fffd3/22 3fffd4/22 3fffd5/22 7fffd9/23
3fffd6/22 7fffda/23 7fffdb/23 7fffdc/23 7fffdd/23 7fffde/23 ffffeb/24 7fffdf/23
ffffec/24 ffffed/24 3fffd7/22 7fffe0/23 ffffee/24 7fffe1/23 7fffe2/23 7fffe3/23
7fffe4/23 1fffdc/21 3fffd8/22 7fffe5/23 3fffd9/22 7fffe6/23 7fffe7/23 ffffef/24
3fffda/22 1fffdd/21 fffe9/20 3fffdb/22 3fffdc/22 7fffe8/23 7fffe9/23 1fffde/21
7fffea/23 3fffdd/22 3fffde/22 fffff0/24 1fffdf/21 3fffdf/22 7fffeb/23 7fffec/23
1fffe0/21 1fffe1/21 3fffe0/22 1fffe2/21 7fffed/23 3fffe1/22 7fffee/23 7fffef/23
fffea/20 3fffe2/22 3fffe3/22 3fffe4/22 7ffff0/23 3fffe5/22 3fffe6/22 7ffff1/23
3ffffe0/26 3ffffe1/26 fffeb/20 7fff1/19 3fffe7/22 7ffff2/23 3fffe8/22 1ffffec/25
3ffffe2/26 3ffffe3/26 3ffffe4/26 7ffffde/27 7ffffdf/27 3ffffe5/26 fffff1/24 1ffffed/25
7fff2/19 1fffe3/21 3ffffe6/26 7ffffe0/27 7ffffe1/27 3ffffe7/26 7ffffe2/27 fffff2/24
1fffe4/21 1fffe5/21 3ffffe8/26 3ffffe9/26 ffffffd/28 7ffffe3/27 7ffffe4/27 7ffffe5/27
fffec/20 fffff3/24 fffed/20 1fffe6/21 3fffe9/22 1fffe7/21 1fffe8/21 7ffff3/23
3fffea/22 3fffeb/22 1ffffee/25 1ffffef/25 fffff4/24 fffff5/24 3ffffea/26 7ffff4/23
3ffffeb/26 7ffffe6/27 3ffffec/26 3ffffed/26 7ffffe7/27 7ffffe8/27 7ffffe9/27 7ffffea/27
7ffffeb/27 ffffffe/28 7ffffec/27 7ffffed/27 7ffffee/27 7ffffef/27 7fffff0/27 3ffffee/26
3fffffff/30`
  .trim()
  .split(/\s+/)
  .map((entry) => {
    const [code, length] = entry.split('/');
    return { code: Number.parseInt(code!, 16), length: Number(length) };
  });

/** Huffman-encodes symbols with the RFC's codes (independently of hpack.ts), padding with ones. */
function huffman(symbols: number[], padBits?: number): Buffer {
  let bits = '';
  for (const symbol of symbols) {
    const { code, length } = rfcHuffmanCodes[symbol]!;
    bits += code.toString(2).padStart(length, '0');
  }
  bits += '1'.repeat(padBits ?? (8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

/** A "literal without indexing, new name `x`" field whose value is the given Huffman string. */
function huffmanField(encoded: Buffer): Buffer {
  return Buffer.concat([hex('00 01 78'), encodeInteger(encoded.length, 7, 0x80), encoded]);
}

describe('Huffman decoding', () => {
  test('the RFC table as transcribed here is a canonical code (guards the test oracle)', () => {
    assert.equal(rfcHuffmanCodes.length, 257);
    const order = rfcHuffmanCodes.map((_, symbol) => symbol);
    order.sort((a, b) => rfcHuffmanCodes[a]!.length - rfcHuffmanCodes[b]!.length || a - b);
    let expected = 0;
    let previous = rfcHuffmanCodes[order[0]!]!.length;
    for (const symbol of order) {
      const { code, length } = rfcHuffmanCodes[symbol]!;
      expected *= 2 ** (length - previous);
      previous = length;
      assert.equal(code, expected, `symbol ${symbol}`);
      expected++;
    }
  });

  test('every symbol decodes, alone and in one long string at every bit alignment', () => {
    for (let symbol = 0; symbol < 256; symbol++) {
      const [field] = new HpackDecoder().decode(huffmanField(huffman([symbol])));
      assert.deepEqual(field, ['x', String.fromCharCode(symbol)], `symbol ${symbol}`);
    }
    // Mixed code lengths, so symbols start at every offset within bytes and nibbles.
    const symbols: number[] = [];
    for (let symbol = 0; symbol < 256; symbol++) symbols.push(symbol, 0x61, (symbol * 7) % 256, 0x30, 0x20);
    const [field] = new HpackDecoder().decode(huffmanField(huffman(symbols)));
    assert.equal(field![1], Buffer.from(symbols).toString('latin1'));
  });

  test('padding: up to 7 one-bits are fine; longer, or not all ones, or EOS is an error', () => {
    const decode = (bytes: Buffer) => new HpackDecoder().decode(huffmanField(bytes))[0]![1];
    assert.equal(decode(hex('1f')), 'a'); // 00011 + 111
    assert.equal(decode(hex('')), '');
    assert.equal(decode(huffman([0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30])), '00000000'); // no padding
    assert.throws(() => decode(hex('18')), HpackError); // 00011 + 000: padding not all ones
    assert.throws(() => decode(hex('1e')), HpackError); // 00011 + 110
    assert.throws(() => decode(hex('1b')), HpackError); // 00011 + 011
    assert.throws(() => decode(hex('1d')), HpackError); // 00011 + 101
    assert.throws(() => decode(hex('1fff')), HpackError); // 00011 + 11 one-bits: padding > 7 bits
    assert.throws(() => decode(hex('ff')), HpackError); // 8 one-bits of padding, no symbol
    assert.throws(() => decode(huffman([256])), HpackError); // EOS (30 ones) inside the string
    assert.throws(() => decode(Buffer.concat([huffman([256], 2), hex('1f')])), HpackError); // EOS, then 'a'
  });
});

describe('errors', () => {
  const decodeFresh = (block: string, maxTableSize?: number) => () =>
    new HpackDecoder(maxTableSize).decode(hex(block));

  test('truncated integer or string', () => {
    assert.throws(decodeFresh('ff'), HpackError); // indexed, 7-bit prefix full, no continuation
    assert.throws(decodeFresh('ff 80'), HpackError); // continuation bit set on the last byte
    assert.throws(decodeFresh('0f'), HpackError); // literal name index, 4-bit prefix full
    assert.throws(decodeFresh('04'), HpackError); // value length missing
    assert.throws(decodeFresh('04 05 2f 61'), HpackError); // value shorter than its length
    assert.throws(decodeFresh('00 7f'), HpackError); // name length needs continuation
  });

  test('integer overflow', () => {
    assert.throws(decodeFresh('ff ff ff ff ff ff 0f'), /overflow/);
    assert.throws(decodeFresh('ff 80 80 80 80 80 80 80 80 80 80 00'), /overflow/);
    // Largest accepted lengths are still bounds-checked against the block.
    assert.throws(decodeFresh('04 7f ff ff ff ff 06'), /truncated/);
  });

  test('index 0 and indices beyond the tables', () => {
    assert.throws(decodeFresh('80'), /index 0/);
    assert.throws(decodeFresh('be'), /beyond/); // 62 with an empty dynamic table
    assert.throws(decodeFresh('7e 01 61'), /beyond/); // literal with indexed name 62
    const decoder = new HpackDecoder();
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    assert.deepEqual(decoder.decode(hex('be')), [['custom-key', 'custom-header']]);
    assert.throws(() => decoder.decode(hex('bf')), /beyond/);
  });

  test('dynamic table size updates', () => {
    assert.throws(decodeFresh(encodeInteger(4097, 5, 0x20).toString('hex')), /table size/);
    assert.throws(decodeFresh(encodeInteger(257, 5, 0x20).toString('hex'), 256), /table size/);
    assert.deepEqual(decodeFresh(encodeInteger(256, 5, 0x20).toString('hex') + '82', 256)(), [
      [':method', 'GET'],
    ]);
    assert.throws(decodeFresh('82 3f e1 1f'), /after a header field/);

    // Shrinking to 0 empties the table; growing back re-enables indexing.
    const decoder = new HpackDecoder();
    decoder.decode(hex('4004 6e61 6d65 0576 616c 7565')); // name: value, indexed
    assert.deepEqual(dynamicTable(decoder), ['name: value']);
    decoder.decode(hex('20'));
    assert.deepEqual(dynamicTable(decoder), []);
    decoder.decode(hex('4004 6e61 6d65 0576 616c 7565'));
    assert.deepEqual(dynamicTable(decoder), [], 'nothing fits in a 0-octet table');
    decoder.decode(hex('3f 1b 4004 6e61 6d65 0576 616c 7565')); // size 31 + 27 = 58, then add (41 octets)
    assert.deepEqual(dynamicTable(decoder), ['name: value']);
    decoder.decode(hex('4004 6e61 6d65 0576 616c 7565'));
    assert.deepEqual(dynamicTable(decoder), ['name: value'], 'second copy evicted the first: 82 > 58');

    // A table filled to exactly its size keeps everything.
    const exact = new HpackDecoder(82);
    exact.decode(hex('4004 6e61 6d65 0576 616c 7565 4004 6e61 6d65 0576 616c 7566')); // 2 x 41 octets
    assert.deepEqual(dynamicTable(exact), ['name: valuf', 'name: value']);
  });
});

describe('encoding', () => {
  test('integers (RFC 7541 C.1)', () => {
    assert.equal(encodeInteger(10, 5, 0).toString('hex'), '0a');
    assert.equal(encodeInteger(1337, 5, 0).toString('hex'), '1f9a0a');
    assert.equal(encodeInteger(42, 8, 0).toString('hex'), '2a');
    assert.equal(encodeInteger(31, 5, 0xe0).toString('hex'), 'ff00');
    assert.equal(encodeInteger(30, 5, 0xe0).toString('hex'), 'fe');
    assert.equal(encodeInteger(2 ** 31 - 1, 7, 0x80).toString('hex'), 'ff80ffffff07');
    assert.throws(() => encodeInteger(-1, 5, 0), RangeError);
    assert.throws(() => encodeInteger(1.5, 5, 0), RangeError);
  });

  test('indexed fields', () => {
    assert.equal(encodeIndexed(2).toString('hex'), '82');
    assert.equal(encodeIndexed(3).toString('hex'), '83');
    assert.equal(encodeIndexed(7).toString('hex'), '87');
    assert.equal(encodeIndexed(61).toString('hex'), 'bd');
    assert.throws(() => encodeIndexed(0), RangeError);
    assert.throws(() => encodeIndexed(62), RangeError);
  });

  test('literals without indexing', () => {
    // RFC 7541 C.2.2: static name :path (index 4).
    assert.equal(encodeLiteral(':path', '/sample/path').toString('hex'), '040c2f73616d706c652f70617468');
    // New name: C.2.3's bytes, but 0000 (without indexing) in place of 0001 (never indexed).
    assert.equal(encodeLiteral('password', 'secret').toString('hex'), '000870617373776f726406736563726574');
    // First matching static index: :method is 2 and 3, :status 8..14.
    assert.equal(encodeLiteral(':method', 'PUT')[0], 0x02);
    assert.equal(encodeLiteral(':status', '418')[0], 0x08);
    // Index 61 doesn't fit a 4-bit prefix: 0f then 61 - 15 = 46.
    assert.equal(encodeLiteral('www-authenticate', 'x').toString('hex'), '0f2e0178');
    assert.equal(encodeLiteral('apns-topic', '')[0], 0x00);

    const long = 'é'.repeat(300);
    const block = Buffer.concat([
      encodeLiteral('apns-topic', long),
      encodeLiteral('authorization', 'bearer x'),
    ]);
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(block), [
      ['apns-topic', long],
      ['authorization', 'bearer x'],
    ]);
    assert.deepEqual(dynamicTable(decoder), [], 'literals without indexing must not touch the table');
    assert.throws(() => encodeLiteral('x', '\u2603'), RangeError);
  });
});

// --- Interop with node:http2 (nghttp2's HPACK encoder on the server side) ---------------------

const frameType = { headers: 0x1, settings: 0x4, goaway: 0x7, continuation: 0x9 };
const flags = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 };

function frame(type: number, frameFlags: number, streamId: number, payload = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = frameFlags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('decodes node:http2 responses, and node:http2 accepts our encoded requests', async () => {
  // Tokens may use these punctuation chars (RFC 9110 5.6.2); HPACK must carry them untouched.
  const oddName = "x-tok!#$%&'*+-.^_`|~09";
  const longValue = 'long-' + 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(7); // > 200, so multi-byte lengths
  // Every octet Node lets through in a value, after enough common chars that Node picks Huffman.
  let printable = '\t';
  for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) printable += String.fromCharCode(c);
  const sent = new Map<string, [string, string][]>();
  const received: Record<string, unknown>[] = [];

  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    received.push({ ...headers });
    const path = String(headers[':path']);
    const response: Record<string, string | number> = {
      ':status': 400,
      'content-type': 'application/json',
      'apns-id': randomUUID().toUpperCase(),
      'retry-after': String(path.length * 7),
      [oddName]: "v!#$%&'*+-.^_`|~ é",
      'x-long': longValue,
      'x-echo-tag': String(headers['x-request-tag']),
      date: 'Mon, 21 Oct 2013 20:13:21 GMT',
    };
    if (path === '/r/1') response['x-all'] = '0'.repeat(1000) + printable;
    sent.set(
      path,
      Object.entries(response).map(([name, value]) => [name, String(value)]),
    );
    stream.respond(response, { endStream: true });
  });
  // Node's server is lenient about a client that just stops; never let it hold the test open.
  server.on('session', (session) => session.setTimeout(5000, () => session.destroy()));

  let socket: net.Socket | undefined;
  try {
    await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 5000, 'listen');
    const port = (server.address() as net.AddressInfo).port;
    socket = net.connect(port, '127.0.0.1');
    const client = socket;
    const streamIds = [1, 3, 5, 7, 9];

    const done = new Promise<{ blocks: Map<number, [string, string][]>; sizes: number[] }>(
      (resolve, reject) => {
        const decoder = new HpackDecoder();
        const blocks = new Map<number, [string, string][]>();
        const sizes: number[] = [];
        let pending: Buffer = Buffer.alloc(0);
        let fragments: Buffer[] = [];
        let fragmentStream = 0;
        client.on('error', reject);
        client.on('close', () => reject(new Error('socket closed before all responses')));
        client.on('data', (chunk: Buffer) => {
          try {
            pending = Buffer.concat([pending, chunk]);
            while (pending.length >= 9) {
              const length = pending.readUIntBE(0, 3);
              if (pending.length < 9 + length) break;
              const type = pending[3]!;
              const frameFlags = pending[4]!;
              const streamId = pending.readUInt32BE(5) & 0x7fffffff;
              let payload = pending.subarray(9, 9 + length);
              pending = pending.subarray(9 + length);

              if (type === frameType.settings && !(frameFlags & flags.ack)) {
                client.write(frame(frameType.settings, flags.ack, 0));
              } else if (type === frameType.goaway) {
                throw new Error(`GOAWAY, error code ${payload.readUInt32BE(4)}`);
              } else if (type === frameType.headers || type === frameType.continuation) {
                if (type === frameType.headers) {
                  let start = 0;
                  let end = payload.length;
                  if (frameFlags & flags.padded) {
                    end -= payload[0]!;
                    start = 1;
                  }
                  if (frameFlags & flags.priority) start += 5;
                  payload = payload.subarray(start, end);
                  fragmentStream = streamId;
                } else {
                  assert.equal(streamId, fragmentStream, 'CONTINUATION on another stream');
                }
                fragments.push(payload);
                if (frameFlags & flags.endHeaders) {
                  const block = Buffer.concat(fragments);
                  fragments = [];
                  sizes.push(block.length);
                  blocks.set(streamId, decoder.decode(block));
                  if (blocks.size === streamIds.length) resolve({ blocks, sizes });
                }
              }
            }
          } catch (error) {
            reject(error);
          }
        });
      },
    );

    const requests = streamIds.map((id, i) => {
      const block = Buffer.concat([
        encodeIndexed(2), // :method GET
        encodeIndexed(6), // :scheme http
        encodeLiteral(':path', `/r/${i + 1}`),
        encodeLiteral(':authority', `127.0.0.1:${port}`),
        encodeLiteral('x-request-tag', `tag-${id}`), // a name not in the static table
      ]);
      return frame(frameType.headers, flags.endStream | flags.endHeaders, id, block);
    });
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    client.write(Buffer.concat([preface, frame(frameType.settings, 0, 0), ...requests]));

    const { blocks, sizes } = await withTimeout(done, 5000, 'responses');

    // The server decoded our blocks as intended.
    assert.deepEqual(
      received.map((h) => [h[':method'], h[':scheme'], h[':path'], h[':authority'], h['x-request-tag']]),
      streamIds.map((id, i) => ['GET', 'http', `/r/${i + 1}`, `127.0.0.1:${port}`, `tag-${id}`]),
    );
    // We decoded every response exactly as the handler sent it.
    for (const [i, id] of streamIds.entries()) {
      assert.deepEqual(blocks.get(id), sent.get(`/r/${i + 1}`), `stream ${id}`);
    }
    // Later responses must have come largely from the dynamic table, or this test proved less.
    for (const size of sizes.slice(1)) assert.ok(size < longValue.length, `block of ${size} octets`);
  } finally {
    socket?.destroy();
    await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 5000, 'close').catch(
      () => {},
    );
  }
});
