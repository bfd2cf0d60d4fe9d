import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  broadcastNotificationSchema,
  broadcastPayloadLimit,
  prepareBroadcast,
  storedMessageSeconds,
  validateBroadcastRequest,
} from './broadcast.ts';
import { broadcastActionFor, broadcastReasonTable } from './broadcast-reasons.ts';
import { channelCreateRequestSchema, channelFailureError } from './channel.ts';
import { PushfleetError } from './errors.ts';
import { hasExpired } from './notification.ts';

const noStore = { bundleId: 'com.example.match', storagePolicy: 0 as const };
const stored = { bundleId: 'com.example.match', storagePolicy: 1 as const };
const now = 1767226800_000;

function refused(body: unknown, channel = noStore): PushfleetError {
  try {
    validateBroadcastRequest(body, channel, now);
  } catch (err) {
    assert.ok(err instanceof PushfleetError, String(err));
    return err;
  }
  assert.fail(`accepted: ${JSON.stringify(body)}`);
}

test('a broadcast update: the documented body (§F, node-apn interop) and every required header', () => {
  const prepared = validateBroadcastRequest(
    {
      notification: {
        event: 'update',
        timestamp: 1767226800,
        contentState: { home: 1, away: 0 },
        relevanceScore: 100,
      },
    },
    noStore,
    now,
  );
  assert.equal(
    prepared.payload,
    '{"aps":{"event":"update","timestamp":1767226800,"content-state":{"home":1,"away":0},"relevance-score":100}}',
  );
  assert.deepEqual(prepared.headers, {
    'apns-push-type': 'liveactivity',
    'apns-priority': '10',
    'apns-expiration': '0',
  });
  assert.equal(prepared.bundleId, 'com.example.match');
});

test('an end with a dismissal date, priority and request id, on a stored-message channel', () => {
  const prepared = validateBroadcastRequest(
    {
      notification: {
        pushType: 'liveactivity',
        event: 'end',
        contentState: { home: 2, away: 1 },
        dismissalDate: 1767235600,
        alert: { title: 'Full time', body: 'Reds 2–1 Blues', sound: 'whistle.caf' },
        priority: 5,
        requestId: '123e4567-e89b-42d3-a456-426614174000',
      },
    },
    stored,
    now,
  );
  assert.equal(
    prepared.payload,
    '{"aps":{"event":"end","timestamp":1767226800,"content-state":{"home":2,"away":1},' +
      '"alert":{"title":"Full time","body":"Reds 2–1 Blues","sound":"whistle.caf"},"dismissal-date":1767235600}}',
  );
  assert.deepEqual(prepared.headers, {
    'apns-push-type': 'liveactivity',
    'apns-priority': '5',
    'apns-expiration': String(now / 1000 + storedMessageSeconds),
    'apns-request-id': '123e4567-e89b-42d3-a456-426614174000',
  });
  assert.equal(hasExpired(prepared, now), false);
  assert.equal(hasExpired(prepared, now + (storedMessageSeconds + 1) * 1000), true);
});

test('expiration: 0 only on a policy-0 channel; any time on a stored-message channel', () => {
  const body = (expiration: number) => ({
    notification: { event: 'update', contentState: { a: 1 }, expiration },
  });
  const err = refused(body(1767230000));
  assert.equal(err.code, 'PF_ERR_VALIDATION');
  assert.equal(err.field, 'notification.expiration');
  assert.equal(validateBroadcastRequest(body(0), noStore, now).headers['apns-expiration'], '0');
  assert.equal(
    validateBroadcastRequest(body(1767230000), stored, now).headers['apns-expiration'],
    '1767230000',
  );
  assert.equal(validateBroadcastRequest(body(0), stored, now).headers['apns-expiration'], '0');
});

test('the body limit is 5120 bytes, not 4096', () => {
  const sized = (bytes: number) => {
    const base = JSON.stringify({
      aps: { event: 'update', timestamp: now / 1000, 'content-state': { t: '' } },
    }).length;
    return { notification: { event: 'update', contentState: { t: 'x'.repeat(bytes - base) } } };
  };
  assert.equal(
    Buffer.byteLength(validateBroadcastRequest(sized(broadcastPayloadLimit), noStore, now).payload),
    5120,
  );
  const err = refused(sized(broadcastPayloadLimit + 1));
  assert.equal(err.code, 'PF_ERR_PAYLOAD_TOO_LARGE');
});

test('broadcast validation names the field', () => {
  const cases: [unknown, string][] = [
    [{ notification: { event: 'start', contentState: {} } }, 'notification.event'],
    [{ notification: { contentState: {} } }, 'notification.event'],
    [{ notification: { event: 'update' } }, 'notification.contentState'],
    [{ notification: { event: 'update', contentState: {}, dismissalDate: 1 } }, 'notification.dismissalDate'],
    [{ notification: { event: 'update', contentState: {}, attributes: {} } }, 'notification'],
    [{ notification: { event: 'update', contentState: {}, pushType: 'alert' } }, 'notification.pushType'],
    [{ notification: { event: 'update', contentState: {}, priority: 7 } }, 'notification.priority'],
    [{ notification: { event: 'update', contentState: {}, requestId: 'x' } }, 'notification.requestId'],
    [{ notification: { event: 'end', contentState: {}, alert: { title: 'T' } } }, 'notification.alert.body'],
  ];
  for (const [body, field] of cases) {
    const err = refused(body);
    assert.deepEqual(
      { code: err.code, field: err.field },
      { code: 'PF_ERR_VALIDATION', field },
      JSON.stringify(body),
    );
  }
  assert.equal(broadcastNotificationSchema.safeParse({ event: 'end', contentState: {} }).success, true);
  assert.ok(prepareBroadcast(broadcastNotificationSchema.parse({ event: 'end', contentState: {} }), stored));
});

test('every §F.4 reason has its action; the channel limit and an unknown channel are their own', () => {
  assert.equal(Object.keys(broadcastReasonTable).length, 28);
  assert.equal(broadcastActionFor(400, 'CannotCreateChannelConfig'), 'channel-limit');
  assert.equal(broadcastActionFor(400, 'ChannelNotRegistered'), 'channel-gone');
  assert.equal(broadcastActionFor(400, 'FeatureNotEnabled'), 'feature-disabled');
  assert.equal(broadcastActionFor(400, 'BadExpirationDate'), 'reject');
  assert.equal(broadcastActionFor(403, 'TopicMismatch'), 'credentials');
  assert.equal(broadcastActionFor(403, 'ExpiredProviderToken'), 'refresh-token');
  assert.equal(broadcastActionFor(429, 'TooManyRequests'), 'retry');
  assert.equal(broadcastActionFor(503, 'HTTP503'), 'retry', 'unknown reasons by their status');
  assert.equal(broadcastActionFor(403, 'Whatever'), 'credentials');
  assert.equal(broadcastActionFor(400, 'Whatever'), 'reject');
  for (const [reason, { status }] of Object.entries(broadcastReasonTable)) {
    assert.ok([400, 403, 404, 405, 413, 429, 500, 503].includes(status), reason);
  }
});

test('channel failures become API errors with stable codes', () => {
  const code = (failure: Parameters<typeof channelFailureError>[0]) => {
    const err = channelFailureError(failure);
    return `${err.code} ${err.status}`;
  };
  assert.equal(
    code({ kind: 'rejected', status: 400, reason: 'CannotCreateChannelConfig' }),
    'PF_ERR_CHANNEL_LIMIT 409',
  );
  assert.equal(
    code({ kind: 'rejected', status: 400, reason: 'ChannelNotRegistered' }),
    'PF_ERR_NOT_FOUND 404',
  );
  assert.equal(
    code({ kind: 'rejected', status: 429, reason: 'TooManyRequests' }),
    'PF_ERR_APNS_UNAVAILABLE 503',
  );
  assert.equal(
    code({ kind: 'rejected', status: 400, reason: 'FeatureNotEnabled' }),
    'PF_ERR_APNS_REJECTED 502',
  );
  assert.equal(code({ kind: 'failed', error: 'request timeout' }), 'PF_ERR_APNS_UNAVAILABLE 503');
  assert.equal(code({ kind: 'failed', error: 'bad key', credentials: true }), 'PF_ERR_APNS_REJECTED 502');
  assert.match(
    channelFailureError({ kind: 'rejected', status: 403, reason: 'TopicMismatch' }).message,
    /TopicMismatch/,
  );
});

test('channel create requests: names fit a URL, the policy is 0 or 1 (default 1), metadata is bounded', () => {
  assert.deepEqual(channelCreateRequestSchema.parse({ name: 'match-42' }), {
    name: 'match-42',
    messageStoragePolicy: 1,
  });
  assert.equal(channelCreateRequestSchema.safeParse({ name: 'a/b' }).success, false);
  assert.equal(channelCreateRequestSchema.safeParse({ name: 'm', messageStoragePolicy: 2 }).success, false);
  assert.equal(channelCreateRequestSchema.safeParse({ name: 'm', messageStoragePolicy: '1' }).success, false);
  assert.equal(
    channelCreateRequestSchema.safeParse({ name: 'm', metadata: { big: 'x'.repeat(5000) } }).success,
    false,
  );
  assert.equal(
    channelCreateRequestSchema.safeParse({ name: 'm', environment: 'sandbox', metadata: { home: 'Reds' } })
      .success,
    true,
  );
});
