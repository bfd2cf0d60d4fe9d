import type {
  BroadcastStatus,
  CampaignAudienceKind,
  CampaignState,
  CampaignStatus,
  Environment,
  NotificationStatus,
  Outcome,
} from '@pushfleet/core';
import { recordFields as F } from './fields.ts';

type Hash = Record<string, string>;

const num = (hash: Hash, field: string) => Number(hash[field] ?? 0);
const iso = (hash: Hash, field: string) => (hash[field] ? new Date(num(hash, field)).toISOString() : null);

/** Counters per outcome and per reason, read from a record hash. */
export function recordCounts(hash: Hash) {
  const counts = {
    accepted: num(hash, F.accepted),
    delivered: num(hash, F.delivered),
    rejected: num(hash, F.rejected),
    failed: num(hash, F.failed),
    expired: num(hash, F.expired),
    cancelled: num(hash, F.cancelled),
  } satisfies Record<'accepted' | Outcome, number>;
  const rejectedReasons: Record<string, number> = {};
  const failedReasons: Record<string, number> = {};
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('rejected:')) rejectedReasons[field.slice('rejected:'.length)] = Number(value);
    else if (field.startsWith('failed:')) failedReasons[field.slice('failed:'.length)] = Number(value);
  }
  const finished = counts.delivered + counts.rejected + counts.failed + counts.expired + counts.cancelled;
  // While a fan-out still expands the audience (fanoutDone '0') more tokens may come.
  const allIn = finished >= counts.accepted && hash[F.fanoutDone] !== '0';
  return { counts, rejectedReasons, failedReasons, allIn };
}

export function notificationStatus(id: string, hash: Hash): NotificationStatus | null {
  if (!hash[F.app] || hash[F.kind] === 'campaign' || hash[F.kind] === 'broadcast') return null;
  const { counts, rejectedReasons, failedReasons, allIn } = recordCounts(hash);
  return {
    id,
    app: hash[F.app]!,
    environment: hash[F.environment] as Environment,
    state: allIn ? 'done' : 'queued',
    ...counts,
    reasons: { ...rejectedReasons, ...failedReasons },
    createdAt: new Date(num(hash, F.createdAt)).toISOString(),
    finishedAt: allIn ? (iso(hash, F.lastOutcomeAt) ?? iso(hash, F.cancelledAt)) : null,
  };
}

export function campaignStatus(id: string, hash: Hash, now: number): CampaignStatus | null {
  if (hash[F.kind] !== 'campaign' || !hash[F.app]) return null;
  const { counts, rejectedReasons, failedReasons, allIn } = recordCounts(hash);
  let state: CampaignState;
  if (hash[F.error]) state = 'failed';
  else if (hash[F.cancelledAt]) state = allIn ? 'cancelled' : 'cancelling';
  else if (allIn) state = 'done';
  else if (hash[F.startedAt]) state = 'running';
  else if (hash[F.sendAt] && num(hash, F.sendAt) > now) state = 'scheduled';
  else state = 'queued';
  return {
    id,
    app: hash[F.app]!,
    environment: hash[F.environment] as Environment,
    name: hash[F.name] ?? null,
    audience: (hash[F.audience] ?? 'upload') as CampaignAudienceKind,
    state,
    error: hash[F.error] ?? null,
    total: hash[F.total] === undefined ? null : num(hash, F.total),
    queued: num(hash, F.queued),
    accepted: counts.accepted,
    delivered: counts.delivered,
    rejected: rejectedReasons,
    failed: counts.failed,
    failedReasons,
    invalidated: num(hash, F.invalidated),
    expired: counts.expired,
    cancelled: counts.cancelled,
    ratePerSecond: hash[F.rate] ? num(hash, F.rate) : null,
    createdAt: new Date(num(hash, F.createdAt)).toISOString(),
    sendAt: iso(hash, F.sendAt),
    startedAt: iso(hash, F.startedAt),
    cancelledAt: iso(hash, F.cancelledAt),
    finishedAt: allIn || hash[F.error] ? (iso(hash, F.lastOutcomeAt) ?? iso(hash, F.cancelledAt)) : null,
  };
}

/** A broadcast's record: one channel, so one outcome (and its reason) once it has one. */
export function broadcastStatus(id: string, hash: Hash): BroadcastStatus | null {
  if (hash[F.kind] !== 'broadcast' || !hash[F.app]) return null;
  const { counts, rejectedReasons, failedReasons, allIn } = recordCounts(hash);
  const outcome = (['delivered', 'rejected', 'failed', 'expired', 'cancelled'] as const).find(
    (o) => counts[o] > 0,
  );
  const reason =
    Object.keys(rejectedReasons)[0] ??
    Object.keys(failedReasons)[0] ??
    (outcome === 'expired' ? 'Expired' : outcome === 'cancelled' ? 'Cancelled' : null);
  return {
    id,
    app: hash[F.app]!,
    environment: hash[F.environment] as Environment,
    channel: hash[F.channel] ?? '',
    state: allIn ? 'done' : 'queued',
    outcome: allIn && outcome ? outcome : null,
    reason: allIn && outcome !== 'delivered' ? reason : null,
    createdAt: new Date(num(hash, F.createdAt)).toISOString(),
    finishedAt: allIn ? iso(hash, F.lastOutcomeAt) : null,
  };
}
