import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LegacyFeedbackParser } from './legacy-feedback-client.ts';

function tuple(time: number, tokenHex: string): Buffer {
  const token = Buffer.from(tokenHex, 'hex');
  const out = Buffer.alloc(6 + token.length);
  out.writeUInt32BE(time, 0);
  out.writeUInt16BE(token.length, 4);
  token.copy(out, 6);
  return out;
}

const tokens = [
  '00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0',
  'ab'.repeat(8),
  'cd'.repeat(100),
];
const stream = Buffer.concat([
  tuple(0x6553f100, tokens[0]!),
  tuple(0xffffffff, tokens[1]!),
  tuple(1, tokens[2]!),
]);
const expected = [
  { time: 0x6553f100, token: tokens[0] },
  { time: 0xffffffff, token: tokens[1] },
  { time: 1, token: tokens[2] },
];

test('parses the docs/apns-protocol.md §E example tuple byte for byte', () => {
  const parser = new LegacyFeedbackParser();
  parser.push(Buffer.from(`6553f1000020${tokens[0]}`, 'hex'));
  assert.deepEqual(parser.tuples, [{ time: 1700000000, token: tokens[0] }]);
  assert.equal(parser.pendingBytes, 0);
});

test('tuples split at every possible byte boundary (header included) parse the same', () => {
  for (let cut = 1; cut < stream.length; cut++) {
    const parser = new LegacyFeedbackParser();
    parser.push(stream.subarray(0, cut));
    parser.push(stream.subarray(cut));
    assert.deepEqual(parser.tuples, expected, `cut at ${cut}`);
    assert.equal(parser.pendingBytes, 0);
  }
});

test('one byte per chunk; a truncated last tuple stays pending', () => {
  const parser = new LegacyFeedbackParser();
  for (const byte of stream.subarray(0, stream.length - 3)) parser.push(Buffer.from([byte]));
  assert.deepEqual(parser.tuples, expected.slice(0, 2));
  assert.equal(parser.pendingBytes, 6 + 100 - 3);
});
