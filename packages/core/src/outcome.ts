/**
 * Every accepted notification (one token × one message) ends in exactly one terminal outcome,
 * so counters reconcile: accepted = delivered + rejected + failed + expired + cancelled.
 * `rejected` is APNs saying no for good (bad token, bad request); `failed` is giving up after
 * retryable errors, a credentials problem or a lost job.
 */
export const outcomes = ['delivered', 'rejected', 'failed', 'expired', 'cancelled'] as const;
export type Outcome = (typeof outcomes)[number];

/** The outcomes a token can end in without being delivered: these are counted by reason and reported. */
export type EndOutcome = Exclude<Outcome, 'delivered'>;

/**
 * Reasons Pushfleet gives itself (APNs' own reasons come from the reason table): a token that
 * ended without an APNs answer still says why.
 */
export const localReasons = {
  /** The connection failed before APNs answered, on the last attempt. */
  connection: 'ConnectionError',
  /** The app's key or certificate could not be loaded or was refused in the TLS handshake. */
  credentials: 'CredentialsError',
  /** The batch's job was lost: its worker stopped mid-batch more often than `worker.maxStalledCount`. */
  workerLost: 'WorkerLost',
  /** The batch's job kept failing with an unexpected error until its attempts ran out. */
  jobFailed: 'JobFailed',
  /** The campaign's fan-out kept failing: tokens never handed to a batch. */
  fanoutFailed: 'FanoutFailed',
  /** `apns-expiration` passed before the token was sent. */
  expired: 'Expired',
  /** The notification or campaign was cancelled before the token was sent. */
  cancelled: 'Cancelled',
} as const;

/** Tokens that ended the same way (outcome and reason) in one step. */
export interface EndedTokens {
  outcome: EndOutcome;
  reason: string;
  tokens: string[];
}

export interface InvalidatedToken {
  token: string;
  reason: string;
  /** Apple's timestamp (ms) from a 410, else the time the answer arrived. */
  timestamp: number;
}

/**
 * What one step of a batch came to: how many were delivered, which tokens ended otherwise (they
 * are counted, and listed in the notification's report) and which tokens APNs reported dead
 * (they become feedback events). Recorded atomically by the ledger.
 */
export interface StepOutcomes {
  delivered: number;
  ended: EndedTokens[];
  invalidated: InvalidatedToken[];
}

export function noOutcomes(): StepOutcomes {
  return { delivered: 0, ended: [], invalidated: [] };
}

/** Adds tokens that ended one way; groups by (outcome, reason) so the record stays compact. */
export function addEnded(
  into: StepOutcomes,
  outcome: EndOutcome,
  reason: string,
  tokens: readonly string[],
): void {
  if (tokens.length === 0) return;
  const group = into.ended.find((g) => g.outcome === outcome && g.reason === reason);
  if (group) group.tokens.push(...tokens);
  else into.ended.push({ outcome, reason, tokens: [...tokens] });
}

/** Tokens counted by these outcomes (delivered and ended alike). */
export function countSettled(o: StepOutcomes): number {
  return o.ended.reduce((n, g) => n + g.tokens.length, o.delivered);
}

/** Counts per outcome (for metrics and tests). */
export function countByOutcome(o: StepOutcomes): Record<Outcome, number> {
  const counts: Record<Outcome, number> = {
    delivered: o.delivered,
    rejected: 0,
    failed: 0,
    expired: 0,
    cancelled: 0,
  };
  for (const g of o.ended) counts[g.outcome] += g.tokens.length;
  return counts;
}
