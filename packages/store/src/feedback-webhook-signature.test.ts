import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { signWebhook, verifyWebhookSignature } from './feedback-webhook-signature.ts';

const secret = 'a-long-shared-secret';
const body = '{"app":"shop","items":[]}';
const now = 1_700_000_000_000;
const ts = String(now / 1000);

test('signature is sha256=<hex HMAC-SHA256(secret, timestamp.body)>', () => {
  const hex = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  assert.equal(signWebhook(secret, ts, body), `sha256=${hex}`);
});

test('verify accepts the genuine signature and rejects any change', () => {
  const header = signWebhook(secret, ts, body);
  assert.equal(verifyWebhookSignature(secret, ts, body, header, { now }), true);
  assert.equal(verifyWebhookSignature('other-secret-xxxxx', ts, body, header, { now }), false);
  assert.equal(verifyWebhookSignature(secret, ts, `${body} `, header, { now }), false);
  assert.equal(verifyWebhookSignature(secret, String(now / 1000 + 1), body, header, { now }), false);
  assert.equal(verifyWebhookSignature(secret, ts, body, header.slice(0, -1), { now }), false);
  assert.equal(verifyWebhookSignature(secret, ts, body, undefined, { now }), false);
  assert.equal(verifyWebhookSignature(secret, undefined, body, header, { now }), false);
});

test('verify rejects stale timestamps (replays) unless the tolerance is off', () => {
  const old = String(now / 1000 - 301);
  const header = signWebhook(secret, old, body);
  assert.equal(verifyWebhookSignature(secret, old, body, header, { now }), false);
  assert.equal(verifyWebhookSignature(secret, old, body, header, { now, toleranceSeconds: 0 }), true);
});
