import { broadcastActionFor } from './broadcast-reasons.ts';
import { addEnded, type InvalidatedToken, noOutcomes } from './outcome.ts';
import type { SendResult } from './send-result.ts';
import { classifyResults, type RetryTokens, type SliceVerdict } from './verdict.ts';

// How the delivery core treats what is special about Live Activities and broadcasts
// (docs/apns-protocol.md §F, §H): pure, so the worker's job processor stays a thin loop.

/** Pushfleet's own reasons for Live Activity and broadcast targets that never reached APNs. */
export const liveReasons = {
  /** An update or end addressed an activity id that has no current token (ended, expired, never registered). */
  activityNotFound: 'ActivityNotFound',
} as const;

/** A broadcast's verdict, plus whether APNs said its channel does not exist. */
export interface BroadcastVerdict extends SliceVerdict {
  /** ChannelNotRegistered: the channel is gone at APNs; Pushfleet forgets it, never retries. */
  channelGone: boolean;
}

/**
 * Classifies one broadcast answer with the broadcast reason table (§F.4), never the device one:
 * `channel` is the name the ledger counts it under. Retryable answers and refused credentials wait
 * for another attempt (as device tokens do); everything else ends the broadcast `rejected`.
 */
export function classifyBroadcastResult(channel: string, result: SendResult): BroadcastVerdict {
  const outcomes = noOutcomes();
  const retry: RetryTokens = { tokens: [], reason: '', retryAfter: undefined };
  const verdict: BroadcastVerdict = { outcomes, retry, credentialsFailure: undefined, channelGone: false };
  if (result.kind === 'accepted') {
    outcomes.delivered = 1;
    return verdict;
  }
  if (result.kind === 'failed') {
    retry.tokens.push(channel);
    retry.reason = result.credentials ? 'CredentialsError' : 'ConnectionError';
    if (result.credentials) verdict.credentialsFailure = retry.reason;
    return verdict;
  }
  switch (broadcastActionFor(result.status, result.reason)) {
    case 'retry':
    case 'refresh-token':
      retry.tokens.push(channel);
      retry.reason = result.reason;
      retry.retryAfter = result.retryAfter;
      return verdict;
    case 'credentials':
      retry.tokens.push(channel);
      retry.reason = result.reason;
      verdict.credentialsFailure = result.reason;
      return verdict;
    case 'channel-gone':
      verdict.channelGone = true;
      addEnded(outcomes, 'rejected', result.reason, [channel]);
      return verdict;
    default:
      // reject, channel-limit (not a broadcast answer), feature-disabled: retrying cannot help.
      addEnded(outcomes, 'rejected', result.reason, [channel]);
      return verdict;
  }
}

/** Activity ids of a slice split by whether they have a current token. */
export interface ResolvedActivities {
  /** Ids to send to, with the token each resolved to, in the slice's order. */
  ids: string[];
  tokens: string[];
  /** Ids without a current token: they end `rejected` with `ActivityNotFound`. */
  missing: string[];
}

export function resolveActivities(
  activityIds: readonly string[],
  current: readonly (string | null)[],
): ResolvedActivities {
  const out: ResolvedActivities = { ids: [], tokens: [], missing: [] };
  activityIds.forEach((id, i) => {
    const token = current[i];
    if (token) {
      out.ids.push(id);
      out.tokens.push(token);
    } else out.missing.push(id);
  });
  return out;
}

/** An activity whose token APNs reported dead: its record ends (unless re-registered since). */
export interface GoneActivityToken {
  activityId: string;
  token: string;
  timestamp: number;
}

/**
 * The verdict of a slice addressed by activity id: outcomes are counted and reported under the
 * activity ids (what the producer sent), and dead tokens are handed back as `gone` instead of
 * becoming device feedback events (an activity token is no device token: the device registry
 * has nothing to purge, the activity registry does).
 */
export function classifyActivityResults(
  resolved: ResolvedActivities,
  results: readonly SendResult[],
  now: number,
): SliceVerdict & { gone: GoneActivityToken[] } {
  const verdict = classifyResults(resolved.ids, results, now);
  addEnded(verdict.outcomes, 'rejected', liveReasons.activityNotFound, resolved.missing);
  const tokenOf = new Map(resolved.ids.map((id, i) => [id, resolved.tokens[i]!]));
  const gone = verdict.outcomes.invalidated.map((t: InvalidatedToken) => ({
    activityId: t.token,
    token: tokenOf.get(t.token)!,
    timestamp: t.timestamp,
  }));
  verdict.outcomes.invalidated = [];
  return { ...verdict, gone };
}

/**
 * What a Live Activity payload says about the token it went to: a `start` goes to a push-to-start
 * token of its attributes type; an update or end to an activity's own token. Read from the
 * prepared payload (the job carries nothing else); null for any other push.
 */
export function liveActivityTokenKind(
  pushType: string,
  payload: string,
): { kind: 'start'; attributesType: string } | { kind: 'activity' } | null {
  if (pushType !== 'liveactivity') return null;
  try {
    const aps = (JSON.parse(payload) as { aps?: { event?: unknown; 'attributes-type'?: unknown } }).aps;
    if (aps?.event === 'start' && typeof aps['attributes-type'] === 'string') {
      return { kind: 'start', attributesType: aps['attributes-type'] };
    }
    return { kind: 'activity' };
  } catch {
    return null;
  }
}
