import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PushfleetError } from './errors.ts';
import {
  activityIdSchema,
  assertPushTypeAllowed,
  attributesTypeSchema,
  requiresTokenAuth,
} from './live-activity.ts';
import { notificationSchema, prepareNotification } from './notification.ts';
import { payloadLimitFor, topicFor } from './push-type.ts';
import { parseOrThrow, sendRequestSchema, validateSendRequest } from './requests.ts';

/** The example bodies of docs/apns-protocol.md §H.4, one JSON text each, exactly as printed. */
function documentedExamples(): string[] {
  const doc = readFileSync(new URL('apns-protocol.md', new URL('../../../docs/', import.meta.url)), 'utf8');
  const section = doc.slice(doc.indexOf('### H.4'));
  const open = section.indexOf('```json') + '```json'.length;
  const block = section.slice(open, section.indexOf('\n```', open));
  // An example continues on lines that start with a space (the page wraps long ones).
  return block
    .trim()
    .replace(/\n /g, '')
    .split('\n')
    .map((line) => line.trim());
}

const prepare = (notification: unknown, now = 0) => {
  const n = notificationSchema.parse(notification);
  return prepareNotification(n, topicFor('com.example.delivery', n.pushType), now);
};

test('start, update and end bodies are byte for byte the documented examples (§H.4)', () => {
  const [start, update, end] = documentedExamples();
  assert.ok(start && update && end, 'three examples in §H.4');
  assert.equal(
    prepare({
      pushType: 'liveactivity',
      event: 'start',
      timestamp: 1767225600,
      attributesType: 'DeliveryAttributes',
      attributes: { orderId: 'o-981' },
      contentState: { stage: 'packed', etaMinutes: 45 },
      alert: { title: 'Order packed', body: 'Arriving in about 45 minutes', sound: 'default' },
      inputPushToken: true,
    }).payload,
    start,
  );
  assert.equal(
    prepare({
      pushType: 'liveactivity',
      event: 'update',
      timestamp: 1767227400,
      contentState: { stage: 'on-the-way', etaMinutes: 15 },
      staleDate: 1767229200,
      relevanceScore: 50,
    }).payload,
    update,
  );
  assert.equal(
    prepare({
      pushType: 'liveactivity',
      // Field order in the input does not matter: the body follows Apple's key order.
      dismissalDate: 1767232600,
      contentState: { stage: 'delivered', etaMinutes: 0 },
      timestamp: 1767229000,
      event: 'end',
    }).payload,
    end,
  );
});

test('headers: the .push-type.liveactivity topic, priority and expiration as given, 4096-byte limit', () => {
  const prepared = prepare({
    pushType: 'liveactivity',
    event: 'update',
    contentState: { home: 1 },
    priority: 5,
    expiration: 1767230000,
    apnsId: '123e4567-e89b-42d3-a456-426614174000',
  });
  assert.deepEqual(prepared.headers, {
    'apns-push-type': 'liveactivity',
    'apns-topic': 'com.example.delivery.push-type.liveactivity',
    'apns-priority': '5',
    'apns-expiration': '1767230000',
    'apns-id': '123e4567-e89b-42d3-a456-426614174000',
  });
  assert.equal(
    prepare({ pushType: 'liveactivity', event: 'end', contentState: {} }).headers['apns-priority'],
    undefined,
    'no priority named: APNs applies its default (10), nothing is forced',
  );
  assert.equal(payloadLimitFor('liveactivity'), 4096);
});

test('a missing timestamp is the caller’s now, in seconds', () => {
  const body = JSON.parse(
    prepare({ pushType: 'liveactivity', event: 'update', contentState: { a: 1 } }, 1767225600999).payload,
  );
  assert.equal(body.aps.timestamp, 1767225600);
});

test('iOS 18 start with a channel, localized alert and custom data beside aps', () => {
  const prepared = prepare({
    pushType: 'liveactivity',
    event: 'start',
    timestamp: 1767225600,
    attributesType: 'MatchAttributes',
    attributes: { matchId: 'm42' },
    contentState: { home: 0, away: 0 },
    alert: { title: { locKey: 'KICKOFF', locArgs: ['Reds'] }, body: { locKey: 'VS' }, sound: 'default' },
    inputPushChannel: 'dHN0LWNoYW5uZWw=',
    data: { matchUrl: 'https://example.com/m42' },
  });
  assert.equal(
    prepared.payload,
    '{"matchUrl":"https://example.com/m42","aps":{"event":"start","timestamp":1767225600,' +
      '"attributes-type":"MatchAttributes","attributes":{"matchId":"m42"},"content-state":{"home":0,"away":0},' +
      '"alert":{"title":{"loc-key":"KICKOFF","loc-args":["Reds"]},"body":{"loc-key":"VS"},"sound":"default"},' +
      '"input-push-channel":"dHN0LWNoYW5uZWw="}}',
  );
});

/** The field and message a send request is refused with, through the API's own validation path. */
function refusal(notification: Record<string, unknown>): { code: string; field: string | undefined } {
  try {
    parseOrThrow(sendRequestSchema, { tokens: ['ab'.repeat(32)], notification });
  } catch (err) {
    assert.ok(err instanceof PushfleetError);
    return { code: err.code, field: err.field };
  }
  assert.fail(`accepted: ${JSON.stringify(notification)}`);
}

const la = { pushType: 'liveactivity', contentState: { a: 1 } };
const start = {
  ...la,
  event: 'start',
  alert: { title: 'T', body: 'B' },
  attributesType: 'A',
  attributes: { id: 1 },
};

test('validation names the field of every Live Activity rule', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...la }, 'notification.event'],
    [{ pushType: 'liveactivity', event: 'update' }, 'notification.contentState'],
    [{ ...la, event: 'update', dismissalDate: 1767232600 }, 'notification.dismissalDate'],
    [{ ...start, dismissalDate: 1767232600 }, 'notification.dismissalDate'],
    [{ ...start, attributes: undefined }, 'notification.attributes'],
    [{ ...start, attributesType: undefined }, 'notification.attributesType'],
    [{ ...start, alert: undefined }, 'notification.alert'],
    [{ ...start, alert: 'Kick-off' }, 'notification.alert'],
    [{ ...start, alert: { title: 'T' } }, 'notification.alert.body'],
    [{ ...start, alert: { title: 'T', body: 'B', subtitle: 'S' } }, 'notification.alert'],
    [
      { ...start, inputPushToken: true, inputPushChannel: 'dHN0LWNoYW5uZWw=' },
      'notification.inputPushChannel',
    ],
    [{ ...start, inputPushChannel: 'not base64!' }, 'notification.inputPushChannel'],
    [{ ...la, event: 'update', attributes: { id: 1 } }, 'notification.attributes'],
    [{ ...la, event: 'end', attributesType: 'A' }, 'notification.attributesType'],
    [{ ...la, event: 'update', inputPushToken: true }, 'notification.inputPushToken'],
    [{ ...la, event: 'end', inputPushChannel: 'dHN0LWNoYW5uZWw=' }, 'notification.inputPushChannel'],
    [{ ...la, event: 'pause' }, 'notification.event'],
    [{ ...la, event: 'update', timestamp: 1767225600000 }, 'notification.timestamp'],
    [{ ...la, event: 'update', staleDate: -1 }, 'notification.staleDate'],
    [{ ...la, event: 'update', badge: 1 }, 'notification.badge'],
    [{ ...la, event: 'update', sound: 'default' }, 'notification.sound'],
    [{ ...la, event: 'update', contentAvailable: true }, 'notification.contentAvailable'],
    [{ ...la, event: 'update', contentState: 'x' }, 'notification.contentState'],
    [{ ...la, event: 'update', data: { aps: {} } }, 'notification.data'],
    // Live Activity fields on any other push type.
    [{ alert: 'x', event: 'update' }, 'notification.event'],
    [{ alert: 'x', contentState: { a: 1 } }, 'notification.contentState'],
    [{ pushType: 'background', contentAvailable: true, timestamp: 1 }, 'notification.timestamp'],
    [{ alert: 'x', dismissalDate: 1 }, 'notification.dismissalDate'],
    [{ alert: { title: 'T', body: 'B', sound: 'x' } }, 'notification.alert'],
    [{ alert: 'x', relevanceScore: 50 }, 'notification.relevanceScore'],
  ];
  for (const [notification, field] of cases) {
    assert.deepEqual(
      refusal(notification),
      { code: 'PF_ERR_VALIDATION', field },
      JSON.stringify(notification),
    );
  }
});

test('relevance-score is any number for a Live Activity, 0–1 for other pushes', () => {
  const body = JSON.parse(prepare({ ...la, event: 'update', relevanceScore: 100 }).payload);
  assert.equal(body.aps['relevance-score'], 100);
  assert.equal(notificationSchema.safeParse({ alert: 'x', relevanceScore: 0.5 }).success, true);
});

test('a Live Activity that is too large is refused before queueing (4096 bytes)', () => {
  assert.throws(
    () =>
      validateSendRequest(
        {
          tokens: ['ab'.repeat(32)],
          notification: { ...la, event: 'update', contentState: { text: 'x'.repeat(4100) } },
        },
        { bundleId: 'com.example.delivery', environments: ['production'] },
        1,
      ),
    (err: unknown) => err instanceof PushfleetError && err.code === 'PF_ERR_PAYLOAD_TOO_LARGE',
  );
});

test('liveactivity and location need token auth: a certificate app gets PF_ERR_TOKEN_AUTH_REQUIRED', () => {
  assert.equal(requiresTokenAuth('liveactivity'), true);
  assert.equal(requiresTokenAuth('location'), true);
  assert.equal(requiresTokenAuth('alert'), false);
  assert.doesNotThrow(() => assertPushTypeAllowed('liveactivity', 'token'));
  assert.doesNotThrow(() => assertPushTypeAllowed('alert', 'certificate'));
  assert.throws(
    () => assertPushTypeAllowed('liveactivity', 'certificate'),
    (err: unknown) =>
      err instanceof PushfleetError &&
      err.code === 'PF_ERR_TOKEN_AUTH_REQUIRED' &&
      err.status === 400 &&
      err.field === 'notification.pushType',
  );
});

test('activity ids and attributes types name Redis keys: no whitespace or ":"', () => {
  assert.equal(activityIdSchema.safeParse('match-42').success, true);
  assert.equal(activityIdSchema.safeParse('a:b').success, false);
  assert.equal(activityIdSchema.safeParse('a b').success, false);
  assert.equal(activityIdSchema.safeParse('').success, false);
  assert.equal(attributesTypeSchema.safeParse('MatchAttributes').success, true);
  assert.equal(attributesTypeSchema.safeParse('Match:Attributes').success, false);
});
