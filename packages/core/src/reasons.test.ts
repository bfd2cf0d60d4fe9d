import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelayMs } from './backoff.ts';
import { actionFor, reasonTable } from './reasons.ts';
import { isValidDeviceToken, shortenToken } from './token.ts';

test("Apple's never-retry reasons are never retried", () => {
  for (const reason of [
    'BadDeviceToken',
    'DeviceTokenNotForTopic',
    'Forbidden',
    'ExpiredToken',
    'Unregistered',
    'PayloadTooLarge',
  ]) {
    const { status } = reasonTable[reason as keyof typeof reasonTable];
    assert.notEqual(actionFor(status, reason), 'retry', reason);
  }
});

test('dead tokens invalidate, transient answers retry, credentials pause', () => {
  assert.equal(actionFor(410, 'Unregistered'), 'invalidate-token');
  assert.equal(actionFor(410, 'ExpiredToken'), 'invalidate-token');
  assert.equal(actionFor(400, 'BadDeviceToken'), 'invalidate-token');
  assert.equal(actionFor(429, 'TooManyRequests'), 'retry');
  assert.equal(actionFor(503, 'ServiceUnavailable'), 'retry');
  assert.equal(actionFor(500, 'InternalServerError'), 'retry');
  assert.equal(actionFor(403, 'InvalidProviderToken'), 'credentials');
  assert.equal(actionFor(403, 'ExpiredProviderToken'), 'refresh-token');
  assert.equal(actionFor(502, 'SomethingNew'), 'retry');
  assert.equal(actionFor(400, 'SomethingNew'), 'reject');
});

test('every reason in the table has the status Apple documents for it', () => {
  for (const [reason, { status }] of Object.entries(reasonTable)) {
    assert.ok([400, 403, 404, 405, 410, 413, 429, 500, 503].includes(status), reason);
  }
});

test('backoff grows, is jittered within bounds, and honours Retry-After as a floor', () => {
  const policy = { baseMs: 1000, maxMs: 60_000 };
  assert.equal(
    retryDelayMs(1, policy, undefined, () => 0),
    500,
  );
  assert.equal(
    retryDelayMs(1, policy, undefined, () => 1),
    1000,
  );
  assert.equal(
    retryDelayMs(3, policy, undefined, () => 1),
    4000,
  );
  assert.equal(
    retryDelayMs(20, policy, undefined, () => 1),
    60_000,
  );
  assert.equal(
    retryDelayMs(1, policy, 30, () => 0),
    30_000,
  );
});

test('device tokens: even-length hex of 8..100 bytes; logs see only a short form', () => {
  assert.equal(isValidDeviceToken('ab'.repeat(32)), true);
  assert.equal(isValidDeviceToken('AB'.repeat(40)), true);
  assert.equal(isValidDeviceToken('abc'), false);
  assert.equal(isValidDeviceToken('zz'.repeat(32)), false);
  assert.equal(isValidDeviceToken(''), false);
  assert.equal(isValidDeviceToken(42), false);
  const token = 'ab'.repeat(32);
  assert.equal(shortenToken(token), 'abababab…abab');
});
