import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advanceCheckpoint, firstCheckpoint, unsettledTokens } from './checkpoint.ts';
import { countByOutcome, countSettled } from './outcome.ts';
import { classifyResults } from './verdict.ts';

test('classifies every result into exactly one bucket', () => {
  const tokens = ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8'];
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
      { kind: 'rejected', status: 400, reason: 'BadTopic' },
    ],
    1234,
  );
  assert.equal(verdict.outcomes.delivered, 1);
  assert.deepEqual(verdict.outcomes.ended, [
    { outcome: 'rejected', reason: 'Unregistered', tokens: ['t2'] },
    { outcome: 'rejected', reason: 'BadDeviceToken', tokens: ['t3'] },
    { outcome: 'rejected', reason: 'BadTopic', tokens: ['t6', 't8'] },
  ]);
  assert.deepEqual(verdict.outcomes.invalidated, [
    { token: 't2', reason: 'Unregistered', timestamp: 1_700_000_000_000 },
    { token: 't3', reason: 'BadDeviceToken', timestamp: 1234 },
  ]);
  assert.deepEqual(verdict.retry.tokens, ['t4', 't5', 't7']);
  assert.equal(verdict.retry.retryAfter, 30);
  assert.equal(verdict.credentialsFailure, 'InvalidProviderToken');
  // Every token is either settled by this step or waiting to retry, never both.
  assert.equal(countSettled(verdict.outcomes) + verdict.retry.tokens.length, tokens.length);
});

test('credentials that cannot be used locally pause like a refusal, and wait to retry', () => {
  const verdict = classifyResults(['t1'], [{ kind: 'failed', error: 'bad key', credentials: true }], 0);
  assert.equal(verdict.credentialsFailure, 'CredentialsError');
  assert.deepEqual(verdict.retry, { tokens: ['t1'], reason: 'CredentialsError', retryAfter: undefined });
});

test('a checkpoint moves by slices, collects retry tokens and the largest Retry-After', () => {
  const tokens = ['a', 'b', 'c', 'd', 'e'];
  let cp = firstCheckpoint('run-1');
  const slice1 = classifyResults(
    ['a', 'b'],
    [
      { kind: 'accepted', apnsId: undefined },
      { kind: 'rejected', status: 503, reason: 'ServiceUnavailable', retryAfter: 5 },
    ],
    0,
  );
  cp = advanceCheckpoint(cp, 2, slice1, 'run-1');
  assert.deepEqual(cp, {
    next: 2,
    retry: ['b'],
    retryReason: 'ServiceUnavailable',
    retryAfter: 5,
    run: 'run-1',
  });
  assert.deepEqual(unsettledTokens(tokens, cp), ['c', 'd', 'e', 'b']);
  const slice2 = classifyResults(['c'], [{ kind: 'failed', error: 'reset' }], 0);
  cp = advanceCheckpoint(cp, 1, slice2, 'run-2');
  assert.deepEqual(cp, {
    next: 3,
    retry: ['b', 'c'],
    retryReason: 'ConnectionError',
    retryAfter: 5,
    run: 'run-2',
  });
  assert.deepEqual(countByOutcome(slice1.outcomes), {
    delivered: 1,
    rejected: 0,
    failed: 0,
    expired: 0,
    cancelled: 0,
  });
});
