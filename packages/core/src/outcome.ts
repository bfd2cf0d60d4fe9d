/**
 * Every accepted notification (one token × one message) ends in exactly one terminal outcome,
 * so counters reconcile: accepted = delivered + rejected + failed + expired + cancelled.
 * `rejected` is APNs saying no for good (bad token, bad request); `failed` is giving up after
 * retryable errors or a credentials problem.
 */
export const outcomes = ['delivered', 'rejected', 'failed', 'expired', 'cancelled'] as const;
export type Outcome = (typeof outcomes)[number];
