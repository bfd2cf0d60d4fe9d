import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasExpired, notificationSchema, payloadBytes, prepareNotification } from './notification.ts';
import { payloadLimitFor, topicFor } from './push-type.ts';

test('prepareNotification builds aps keys and headers once', () => {
  const n = notificationSchema.parse({
    alert: { title: 'Hi', locKey: 'GREETING', locArgs: ['Ann'] },
    badge: 3,
    sound: { critical: true, name: 'alarm.caf', volume: 0.5 },
    threadId: 't1',
    mutableContent: true,
    interruptionLevel: 'time-sensitive',
    relevanceScore: 0.7,
    data: { orderId: 42 },
    collapseId: 'c1',
    expiration: 1_900_000_000,
  });
  const prepared = prepareNotification(n, topicFor('com.x.app', n.pushType));
  assert.deepEqual(JSON.parse(prepared.payload), {
    orderId: 42,
    aps: {
      alert: { title: 'Hi', 'loc-key': 'GREETING', 'loc-args': ['Ann'] },
      badge: 3,
      sound: { critical: true, name: 'alarm.caf', volume: 0.5 },
      'thread-id': 't1',
      'mutable-content': 1,
      'interruption-level': 'time-sensitive',
      'relevance-score': 0.7,
    },
  });
  assert.deepEqual(prepared.headers, {
    'apns-push-type': 'alert',
    'apns-topic': 'com.x.app',
    'apns-expiration': '1900000000',
    'apns-collapse-id': 'c1',
  });
});

test('background pushes default to priority 5 and carry content-available', () => {
  const n = notificationSchema.parse({ pushType: 'background', contentAvailable: true });
  const prepared = prepareNotification(n, topicFor('com.x.app', 'background'));
  assert.equal(prepared.headers['apns-priority'], '5');
  assert.equal(prepared.payload, '{"aps":{"content-available":1}}');
});

test('topic suffixes follow the push type', () => {
  assert.equal(topicFor('com.x', 'voip'), 'com.x.voip');
  assert.equal(topicFor('com.x', 'liveactivity'), 'com.x.push-type.liveactivity');
  assert.equal(topicFor('com.x', 'widgets'), 'com.x.push-type.widgets');
  assert.equal(payloadLimitFor('voip'), 5120);
  assert.equal(payloadLimitFor('alert'), 4096);
});

test('schema rejects unknown fields, long collapse ids, aps in custom data and bad apns-id', () => {
  assert.equal(notificationSchema.safeParse({ alertt: 'x' }).success, false);
  assert.equal(notificationSchema.safeParse({ collapseId: 'é'.repeat(33) }).success, false);
  assert.equal(notificationSchema.safeParse({ data: { aps: {} } }).success, false);
  assert.equal(notificationSchema.safeParse({ apnsId: 'not-a-uuid' }).success, false);
  assert.equal(notificationSchema.safeParse({ priority: 7 }).success, false);
});

test('payload size is measured in UTF-8 bytes', () => {
  const n = notificationSchema.parse({ alert: '€' });
  assert.equal(payloadBytes(prepareNotification(n, 't')), Buffer.byteLength('{"aps":{"alert":"€"}}'));
});

test('hasExpired only for a non-zero expiration in the past', () => {
  const at = (expiration?: number) =>
    prepareNotification(notificationSchema.parse({ alert: 'x', expiration }), 't');
  assert.equal(hasExpired(at(undefined), Date.now()), false);
  assert.equal(hasExpired(at(0), Date.now()), false);
  assert.equal(hasExpired(at(1000), Date.now()), true);
  assert.equal(hasExpired(at(Math.floor(Date.now() / 1000) + 60), Date.now()), false);
});
