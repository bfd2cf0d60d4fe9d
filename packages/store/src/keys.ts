import { appSpace } from './ledger/keys.ts';

/** Keys outside the ledger (whose schema is ledger/keys.ts), in the app's space. */
export const storeKeys = {
  /** The feedback service's input for one app: one entry per dead token, from every worker. */
  feedbackStream: (prefix: string, app: string) => `${appSpace(prefix, app)}:feedback`,
  /** A fleet-wide send rate's state (GCRA) for one app. */
  rate: (prefix: string, app: string) => `${appSpace(prefix, app)}:rate`,
};

/**
 * How long a ledger record (and its batches, report and audience) lives after its last activity:
 * long enough for producers to read results and reports.
 */
export const ledgerRetentionSeconds = 7 * 24 * 3600;
