import { environments, isValidDeviceToken } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import { deviceKeys, unregisterScript } from './device-registry.ts';
import { feedbackGroup, feedbackKeys, staleReason } from './feedback-keys.ts';
import { storeKeys } from './keys.ts';

/** One entry of the feedback stream, as the delivery worker (or a legacy poll, or the sweep) wrote it. */
export interface FeedbackEvent {
  /** Stream id in the feedback stream. */
  id: string;
  app: string;
  environment: string;
  token: string;
  reason: string;
  /** ms since the epoch; NaN when the entry carried none. */
  timestamp: number;
}

/**
 * - `purged`: registered before the failure: removed from the registry and its indexes, published.
 * - `kept`: registered again at or after the failure timestamp (Apple: keep sending to it).
 * - `unknown`: not in the registry (sent by token, or already gone): published so producers drop it.
 * - `skipped`: not in the registry and the reason does not prove the token dead (see `policyFor`).
 * - `ignored`: malformed, or an app this deployment does not serve: acknowledged, nothing else.
 * - `duplicate`: another consumer decided this event already (it was claimed twice): no effect.
 */
export type FeedbackAction = 'purged' | 'kept' | 'unknown' | 'skipped' | 'ignored' | 'duplicate';

/**
 * How a reason is handled when the registry has no registration under (app, event environment):
 * - `publish-unknown`: APNs says the token is dead wherever it came from (410 Unregistered,
 *   ExpiredToken, legacy feedback): tell the producer anyway.
 * - `registered-only`: BadDeviceToken and DeviceTokenNotForTopic also mean "token of the other
 *   environment / another app", so they only count when a registration proves the environment
 *   matched. Stale events come from the registry itself, so with no registration there is nothing
 *   to say (and an overlapping sweep's duplicate must not reach the feed).
 */
export type FeedbackPolicy = 'publish-unknown' | 'registered-only' | 'ignore';

const policies: Record<string, FeedbackPolicy> = {
  Unregistered: 'publish-unknown',
  ExpiredToken: 'publish-unknown',
  BadDeviceToken: 'registered-only',
  DeviceTokenNotForTopic: 'registered-only',
  [staleReason]: 'registered-only',
};

export function policyFor(event: FeedbackEvent, isKnownApp: (app: string) => boolean): FeedbackPolicy {
  const wellFormed =
    isKnownApp(event.app) &&
    (environments as readonly string[]).includes(event.environment) &&
    isValidDeviceToken(event.token) &&
    Number.isFinite(event.timestamp);
  return (wellFormed && policies[event.reason]) || 'ignore';
}

/**
 * Decide + purge + publish + XACK for one event, atomically: a crash leaves an event either
 * fully applied and acknowledged or untouched and pending, and the XACK guard makes a second
 * application (the event claimed by two consumers) a no-op.
 * KEYS: feedback stream, app feed, device hash, all-set.
 * ARGV: group, event id, policy, index base, token, environment, reason, timestamp (ms).
 */
const applyScript = `
local function unregisterDevice(KEYS, ARGV)
${unregisterScript}
end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 'duplicate' end
local policy = ARGV[3]
if policy == 'ignore' then return 'ignored' end
local registeredAt = redis.call('HGET', KEYS[3], 'registeredAt')
local action
if registeredAt then
  if tonumber(registeredAt) >= tonumber(ARGV[8]) then return 'kept' end
  unregisterDevice({KEYS[3], KEYS[4]}, {ARGV[4], ARGV[5]})
  action = 'purged'
elseif policy == 'publish-unknown' then
  action = 'unknown'
else
  return 'skipped'
end
redis.call('XADD', KEYS[2], '*', 'token', ARGV[5], 'environment', ARGV[6], 'reason', ARGV[7], 'timestamp', ARGV[8], 'action', action, 'event', ARGV[2])
return action
`;

const commandName = 'pushfleetApplyFeedback';

/** Applies feedback events with the timestamp rule; see `applyScript` for the guarantees. */
export class FeedbackPurger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly isKnownApp: (app: string) => boolean,
  ) {
    if (!(commandName in redis)) redis.defineCommand(commandName, { lua: applyScript, numberOfKeys: 4 });
  }

  /**
   * One pipeline for a batch read from `app`'s stream; each event is still its own atomic
   * script. Keys are the stream's app's (one slot), whatever an event's own `app` field says.
   */
  async apply(app: string, events: FeedbackEvent[]): Promise<FeedbackAction[]> {
    if (events.length === 0) return [];
    const pipeline = this.redis.pipeline() as unknown as Record<
      string,
      (...args: (string | number)[]) => unknown
    > & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const event of events) {
      const policy = event.app === app ? policyFor(event, this.isKnownApp) : 'ignore';
      // An ignored event never touches registry keys, so odd field values cannot name a key.
      const env = policy === 'ignore' ? 'sandbox' : (event.environment as 'sandbox' | 'production');
      const token = policy === 'ignore' ? '-' : event.token;
      const all = deviceKeys.all(this.prefix, app, env);
      pipeline[commandName]!(
        storeKeys.feedbackStream(this.prefix, app),
        feedbackKeys.feed(this.prefix, app),
        deviceKeys.device(this.prefix, app, env, token),
        all,
        feedbackGroup,
        event.id,
        policy,
        // The registry's index base, where user:/tag: sets hang.
        deviceKeys.indexBase(this.prefix, app, env),
        token,
        env,
        event.reason,
        policy === 'ignore' ? 0 : event.timestamp,
      );
    }
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, action]) => {
      if (err) throw err;
      return action as FeedbackAction;
    });
  }
}
