import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PushfleetError } from './errors.ts';
import {
  classifyActivityResults,
  classifyBroadcastResult,
  liveActivityTokenKind,
  resolveActivities,
} from './live-delivery.ts';
import { validateLiveSendRequest } from './live-send.ts';
import { type AppTarget, validateSendRequest } from './requests.ts';

const tokenApp: AppTarget = {
  bundleId: 'com.example.match',
  environments: ['sandbox'],
  credentials: { type: 'token' },
};
const certApp: AppTarget = { ...tokenApp, credentials: { type: 'certificate' } };
const token = 'ab'.repeat(32);
const now = Date.UTC(2026, 4, 1, 19) as number;
const update = { event: 'update', contentState: { home: 1, away: 0 } };
const start = {
  event: 'start',
  contentState: { home: 0, away: 0 },
  alert: { title: 'Kick-off', body: 'Lyon – Nantes' },
  attributesType: 'MatchAttributes',
  attributes: { home: 'Lyon', away: 'Nantes' },
  inputPushChannel: 'dHN0LWNobmw=',
};

function refused(body: unknown, app = tokenApp): { code: string; field: string | undefined } {
  try {
    validateLiveSendRequest(body, app, now);
  } catch (err) {
    assert.ok(err instanceof PushfleetError, String(err));
    return { code: err.code, field: err.field };
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
}

test('a Live Activity push: pushType defaults to liveactivity, the topic gets its suffix, the aps is built', () => {
  const valid = validateLiveSendRequest(
    { tokens: [token.toUpperCase()], notification: start },
    tokenApp,
    now,
  );
  assert.equal(valid.prepared.headers['apns-topic'], 'com.example.match.push-type.liveactivity');
  assert.equal(valid.prepared.headers['apns-push-type'], 'liveactivity');
  assert.deepEqual(valid.target, { kind: 'tokens', tokens: [token] });
  assert.equal(
    valid.prepared.payload,
    '{"aps":{"event":"start","timestamp":1777662000,"attributes-type":"MatchAttributes",' +
      '"attributes":{"home":"Lyon","away":"Nantes"},"content-state":{"home":0,"away":0},' +
      '"alert":{"title":"Kick-off","body":"Lyon – Nantes"},"input-push-channel":"dHN0LWNobmw="}}',
  );
  assert.equal(valid.attributesType, 'MatchAttributes');
});

test('targets: exactly one of tokens, activityIds, userIds; a start never goes to activity ids', () => {
  assert.deepEqual(refused({ notification: update }), { code: 'PF_ERR_VALIDATION', field: 'tokens' });
  assert.deepEqual(refused({ tokens: [token], activityIds: ['a'], notification: update }), {
    code: 'PF_ERR_VALIDATION',
    field: 'tokens',
  });
  assert.deepEqual(refused({ tokens: [], notification: update }), {
    code: 'PF_ERR_EMPTY_TOKENS',
    field: 'tokens',
  });
  assert.deepEqual(refused({ tokens: ['zz'], notification: update }), {
    code: 'PF_ERR_BAD_DEVICE_TOKEN',
    field: 'tokens.0',
  });
  assert.deepEqual(refused({ activityIds: ['a'], notification: start }), {
    code: 'PF_ERR_VALIDATION',
    field: 'activityIds',
  });
  assert.deepEqual(refused({ activityIds: ['a b'], notification: update }), {
    code: 'PF_ERR_VALIDATION',
    field: 'activityIds.0',
  });
  assert.deepEqual(refused({ userIds: ['u:1'], notification: update }), {
    code: 'PF_ERR_VALIDATION',
    field: 'userIds.0',
  });
  const byActivity = validateLiveSendRequest(
    { activityIds: ['m1', 'm1', 'm2'], notification: update },
    tokenApp,
    now,
  );
  assert.deepEqual(byActivity.target, { kind: 'activities', activityIds: ['m1', 'm2'] });
});

test('payload rules answer with the field: dismissalDate on update, start without attributes, other push types', () => {
  const cases: [unknown, string][] = [
    [{ ...update, dismissalDate: 1 }, 'notification.dismissalDate'],
    [{ ...start, attributes: undefined }, 'notification.attributes'],
    [{ ...start, alert: undefined }, 'notification.alert'],
    [{ ...start, attributesType: undefined }, 'notification.attributesType'],
    [{ ...update, contentState: undefined }, 'notification.contentState'],
    [{ ...update, event: 'pause' }, 'notification.event'],
    [{ ...update, inputPushToken: true }, 'notification.inputPushToken'],
    [{ ...start, inputPushToken: true }, 'notification.inputPushChannel'],
    [{ ...update, badge: 1 }, 'notification.badge'],
    [{ ...update, timestamp: now }, 'notification.timestamp'],
    [{ ...update, pushType: 'alert' }, 'notification.event'],
  ];
  for (const [notification, field] of cases) {
    assert.deepEqual(refused({ tokens: [token], notification }), { code: 'PF_ERR_VALIDATION', field }, field);
  }
});

test('certificate apps: PF_ERR_TOKEN_AUTH_REQUIRED, for Live Activity pushes and liveactivity notifications alike', () => {
  assert.deepEqual(refused({ tokens: [token], notification: update }, certApp), {
    code: 'PF_ERR_TOKEN_AUTH_REQUIRED',
    field: 'notification.pushType',
  });
  assert.throws(
    () =>
      validateSendRequest(
        { tokens: [token], notification: { ...update, pushType: 'liveactivity' } },
        certApp,
        10,
        now,
      ),
    (err: PushfleetError) => err.code === 'PF_ERR_TOKEN_AUTH_REQUIRED' && err.status === 400,
  );
  // Alerts stay fine for certificate apps.
  assert.ok(validateSendRequest({ tokens: [token], notification: { alert: 'hi' } }, certApp, 10, now));
});

test('broadcast answers: the §F.4 table, channel-gone flagged, retryable ones kept for another attempt', () => {
  const ok = classifyBroadcastResult('m1', { kind: 'accepted', apnsId: undefined });
  assert.equal(ok.outcomes.delivered, 1);
  const gone = classifyBroadcastResult('m1', {
    kind: 'rejected',
    status: 400,
    reason: 'ChannelNotRegistered',
  });
  assert.equal(gone.channelGone, true);
  assert.deepEqual(gone.outcomes.ended, [
    { outcome: 'rejected', reason: 'ChannelNotRegistered', tokens: ['m1'] },
  ]);
  const busy = classifyBroadcastResult('m1', {
    kind: 'rejected',
    status: 429,
    reason: 'TooManyRequests',
    retryAfter: 7,
  });
  assert.deepEqual(busy.retry, { tokens: ['m1'], reason: 'TooManyRequests', retryAfter: 7 });
  assert.equal(busy.outcomes.ended.length, 0);
  const creds = classifyBroadcastResult('m1', {
    kind: 'rejected',
    status: 403,
    reason: 'InvalidProviderToken',
  });
  assert.equal(creds.credentialsFailure, 'InvalidProviderToken');
  assert.deepEqual(creds.retry.tokens, ['m1']);
  const expiry = classifyBroadcastResult('m1', {
    kind: 'rejected',
    status: 400,
    reason: 'BadExpirationDate',
  });
  assert.deepEqual(expiry.outcomes.ended[0]?.reason, 'BadExpirationDate');
  const lost = classifyBroadcastResult('m1', { kind: 'failed', error: 'reset' });
  assert.deepEqual(lost.retry.tokens, ['m1']);
});

test('activity targets: missing ids end ActivityNotFound, dead tokens become `gone` instead of feedback', () => {
  const resolved = resolveActivities(['a', 'b', 'c'], ['t-a', null, 't-c']);
  assert.deepEqual(resolved, { ids: ['a', 'c'], tokens: ['t-a', 't-c'], missing: ['b'] });
  const verdict = classifyActivityResults(
    resolved,
    [
      { kind: 'accepted', apnsId: undefined },
      { kind: 'rejected', status: 410, reason: 'Unregistered', invalidAt: 5000 },
    ],
    9000,
  );
  assert.equal(verdict.outcomes.delivered, 1);
  assert.deepEqual(verdict.outcomes.invalidated, []);
  assert.deepEqual(verdict.gone, [{ activityId: 'c', token: 't-c', timestamp: 5000 }]);
  assert.deepEqual(Object.fromEntries(verdict.outcomes.ended.map((g) => [g.reason, g.tokens])), {
    Unregistered: ['c'],
    ActivityNotFound: ['b'],
  });
});

test('the token kind of a Live Activity payload: push-to-start (with its type) or an activity’s', () => {
  const startPayload = JSON.stringify({ aps: { event: 'start', 'attributes-type': 'MatchAttributes' } });
  assert.deepEqual(liveActivityTokenKind('liveactivity', startPayload), {
    kind: 'start',
    attributesType: 'MatchAttributes',
  });
  assert.deepEqual(liveActivityTokenKind('liveactivity', '{"aps":{"event":"end"}}'), { kind: 'activity' });
  assert.equal(liveActivityTokenKind('alert', startPayload), null);
});
