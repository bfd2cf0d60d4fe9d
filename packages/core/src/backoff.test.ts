import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs, retryDelayMs } from './backoff.ts';

const policy = { baseMs: 1000, maxMs: 60_000 };

test('equal jitter: attempt n waits between half and all of base·2^(n−1), capped', () => {
  for (const [attempt, ceiling] of [
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [10, 60_000],
  ] as const) {
    assert.equal(
      backoffDelayMs(attempt, policy, () => 0),
      ceiling / 2,
    );
    assert.equal(
      backoffDelayMs(attempt, policy, () => 1),
      ceiling,
    );
  }
});

test("a server's Retry-After is a floor, never a ceiling", () => {
  assert.equal(
    retryDelayMs(1, policy, 30, () => 0),
    30_000,
  );
  assert.equal(
    retryDelayMs(7, policy, 1, () => 1),
    60_000,
  );
  assert.equal(
    retryDelayMs(1, policy, undefined, () => 0),
    500,
  );
});
