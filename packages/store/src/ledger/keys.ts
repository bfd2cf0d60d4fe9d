/** Whether a key prefix carries a Redis Cluster hash tag (`{…}` with something inside). */
export function hasHashTag(prefix: string): boolean {
  return /\{[^}]+\}/.test(prefix);
}

/**
 * The store's key schema. Every key of one app — its queue's jobs, ledger records, device
 * registry, feedback stream and feed — lives under the app's space, which is its own Redis
 * Cluster hash slot (`<prefix>:app:{<app>}`): one app's records and jobs are written in one
 * transaction, and apps spread over every primary of a Cluster. A prefix that carries its own
 * hash tag puts everything in that one slot instead (one primary, still correct).
 */
export function appSpace(prefix: string, app: string): string {
  return hasHashTag(prefix) ? `${prefix}:app:${app}` : `${prefix}:app:{${app}}`;
}

/**
 * The space of keys that belong to no single app (the app registry, pauses, activity, the
 * scheduler's queues): one slot of its own in Redis Cluster. Build every such key from it.
 */
export function globalSpace(prefix: string): string {
  return hasHashTag(prefix) ? prefix : `{${prefix}}`;
}

export const ledgerKeys = {
  /** The record: a hash with the fields of `recordFields`. */
  record: (space: string, id: string) => `${space}:n:${id}`,
  /** Per-batch state: field `<batchNo>.<attempt>` → checkpoint JSON or `done`. */
  batches: (space: string, id: string) => `${space}:n:${id}:batches`,
  /** Tokens that did not end delivered: one list entry per step (outcome, reason, time, tokens). */
  report: (space: string, id: string) => `${space}:n:${id}:report`,
  /** Audience tokens never handed to a batch (see `recordFields.reportTail`). */
  reportTail: (space: string, id: string) => `${space}:n:${id}:report-tail`,
  /** A campaign's (or large notification's) audience, paged by the fan-out. */
  audience: (space: string, id: string) => `${space}:n:${id}:audience`,
  /** Dedup set while a registry audience is materialised. */
  seen: (space: string, id: string) => `${space}:n:${id}:seen`,
  /** Campaign ids of the app by creation time, for listing. */
  campaigns: (space: string) => `${space}:campaigns`,
  /** One Idempotency-Key use (scope and key hashed). */
  idempotency: (space: string, hash: string) => `${space}:idempotency:${hash}`,
};

/** The field of a batch in the record's `batches` hash. */
export function batchField(batchNo: number, attempt: number): string {
  return `${batchNo}.${attempt}`;
}
