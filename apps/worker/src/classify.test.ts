import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyResults } from './classify.ts';

test('classifies every result into exactly one bucket', () => {
  const tokens = ['t1', 't2', 't3', 't4', 't5', 't6', 't7'];
  const verdict = classifyResults(
    tokens,
    [
      { kind: 'accepted', apnsId: 'a' },
      { kind: 'rejected', status: 410, reason: 'Unregistered', invalidAt: 1_700_000_000_000 },
      { kind: 'rejected', status: 400, reason: 'BadDeviceToken' },
      { kind: 'rejected', status: 429, reason: 'TooManyRequests', retryAfter: 30 },
      { kind: 'failed', error: 'socket hang up' },
      { kind: 'rejected', status: 400, reason: 'BadTopic' },
      { kind: 'rejected', status: 403, reason: 'InvalidProviderToken' },
    ],
    1234,
  );
  assert.equal(verdict.counts.delivered, 1);
  assert.deepEqual(verdict.counts.rejected, { Unregistered: 1, BadDeviceToken: 1, BadTopic: 1 });
  assert.deepEqual(verdict.counts.failed, {});
  assert.deepEqual(verdict.counts.invalidated, [
    { token: 't2', reason: 'Unregistered', timestamp: 1_700_000_000_000 },
    { token: 't3', reason: 'BadDeviceToken', timestamp: 1234 },
  ]);
  assert.deepEqual(verdict.retry.tokens, ['t4', 't5', 't7']);
  assert.equal(verdict.retry.retryAfter, 30);
  assert.equal(verdict.credentialsFailure, 'InvalidProviderToken');
});
