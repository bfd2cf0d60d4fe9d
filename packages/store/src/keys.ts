/** Keys outside the ledger (whose schema is ledger/keys.ts), under the deployment's prefix. */
export const storeKeys = {
  /** The feedback service's input: one entry per dead token, from every worker. */
  feedbackStream: (prefix: string) => `${prefix}:feedback`,
};

/**
 * How long a ledger record (and its batches, report and audience) lives after its last activity:
 * long enough for producers to read results and reports.
 */
export const ledgerRetentionSeconds = 7 * 24 * 3600;
