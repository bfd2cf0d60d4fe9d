import { type EndOutcome, outcomes } from '@pushfleet/core';

/**
 * Field names of a ledger record (the hash of one notification, campaign or broadcast), defined
 * once: the Lua scripts get them as the table `F` (see scripts.ts), the readers use this object.
 */
export const recordFields = {
  kind: 'kind',
  app: 'app',
  environment: 'environment',
  createdAt: 'createdAt',
  /** Tokens accepted: known at accept for notifications; raised by the fan-out for campaigns. */
  accepted: 'accepted',
  delivered: 'delivered',
  rejected: 'rejected',
  failed: 'failed',
  expired: 'expired',
  cancelled: 'cancelled',
  /** Tokens APNs reported dead (a subset of rejected). */
  invalidated: 'invalidated',
  lastOutcomeAt: 'lastOutcomeAt',
  cancelledAt: 'cancelledAt',
  /** '0' while a fan-out still expands the audience; '1' once every token is in a batch. */
  fanoutDone: 'fanoutDone',
  /** `materialise` (a registry audience not yet copied into the list) or `fanout`. */
  phase: 'phase',
  /** Tokens of the audience list already in deliver batches: the fan-out's cursor. */
  queued: 'queued',
  total: 'total',
  sendAt: 'sendAt',
  startedAt: 'startedAt',
  /** When a paced fan-out started: batch n is due at rateStartedAt + n·size/rate. */
  rateStartedAt: 'rateStartedAt',
  name: 'name',
  audience: 'audience',
  rate: 'rate',
  /** A broadcast's channel: the producer's name for it. */
  channel: 'channel',
  /** Why a campaign failed before sending (a stable PF_ERR_ code). */
  error: 'error',
  /**
   * `<outcome>\t<reason>` of the audience tokens never handed to a batch (cancel, failed fan-out),
   * kept as the report's tail list.
   */
  reportTail: 'reportTail',
} as const;

export type RecordField = (typeof recordFields)[keyof typeof recordFields];

/** Outcome counters are fields named after the outcome (`delivered`, `rejected`, …). */
export const outcomeFields = outcomes;

/** Per-reason counters exist for rejections and failures: `rejected:BadDeviceToken`, `failed:TooManyRequests`. */
export function reasonField(outcome: EndOutcome, reason: string): string | undefined {
  return outcome === 'rejected' || outcome === 'failed' ? `${outcome}:${reason}` : undefined;
}

/** The state of a batch that needs nothing more (its checkpoint otherwise, as JSON). */
export const batchDone = 'done';

export const recordKinds = ['notification', 'campaign', 'broadcast'] as const;
export type RecordKind = (typeof recordKinds)[number];
