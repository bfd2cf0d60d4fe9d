import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameReader, FrameType, frame } from './frames.ts';

/** `n` PING frames (17 bytes each), each carrying its number, as one buffer. */
const pings = (n: number) =>
  Buffer.concat(Array.from({ length: n }, (_, i) => frame(FrameType.ping, 0, 0, Buffer.alloc(8, i))));

function reader() {
  const seen: number[] = [];
  const r = new FrameReader((_type, _flags, _id, payload) => seen.push(payload[0]!));
  return { r, seen };
}

test('FrameReader stops when told, keeps the rest, and resumes in order', () => {
  const { r, seen } = reader();
  let stops = 0;
  // Asked every 16 frames: says stop the first two times.
  const until = () => stops++ < 2;
  assert.equal(r.push(pings(40), until), true);
  assert.deepEqual(seen, [...Array(15).keys()]);
  assert.equal(r.resume(until), true);
  assert.equal(seen.length, 30);
  assert.equal(r.resume(until), false);
  assert.deepEqual(seen, [...Array(40).keys()]);
  assert.equal(r.resume(until), false, 'nothing left');
});

test('FrameReader keeps a frame split across reads, with or without a stop', () => {
  const { r, seen } = reader();
  const bytes = pings(20);
  const cut = 17 * 5 + 3; // inside the sixth frame
  assert.equal(
    r.push(bytes.subarray(0, cut), () => false),
    false,
  );
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.equal(r.push(bytes.subarray(cut)), false);
  assert.deepEqual(seen, [...Array(20).keys()]);
});

test('FrameReader without a stop reads everything at once', () => {
  const { r, seen } = reader();
  assert.equal(r.push(pings(100)), false);
  assert.equal(seen.length, 100);
});
