import type { Environment } from './environment.ts';
import type { PreparedNotification } from './notification.ts';
import type { RegistryAudience } from './requests.ts';

/**
 * An app's queue carries two kinds of job: `deliver` (one prepared notification to a batch of
 * tokens) and `fanout` (a campaign expanding its audience into deliver batches). Both live in the
 * app's own queue, beside the app's ledger records, so a job and its record are written in one
 * atomic step.
 */
export const jobNames = { deliver: 'deliver', fanout: 'fanout' } as const;

/** Tokens per deliver job: big enough that queue overhead is small per token, small enough to checkpoint. */
export const deliverBatchSize = 500;

/** One deliver job: one prepared notification and a batch of tokens for one app × environment. */
export interface DeliverJobData {
  app: string;
  environment: Environment;
  /** The ledger record this batch counts into (a notification's or a campaign's id). */
  notificationId: string;
  /** Position of this batch within its notification or campaign; with attempt, names the job. */
  batchNo: number;
  prepared: PreparedNotification;
  tokens: string[];
  /** How many times these tokens were already tried (0 on the first job, n on the n-th retry job). */
  attempt: number;
}

/** A campaign's audience: its stored token list, or the device registry's devices. */
export type CampaignAudience = { kind: 'list' } | RegistryAudience;

/** One campaign fan-out: where its cursor is, is the ledger's to say (it moves with the batches). */
export interface FanoutJobData {
  app: string;
  environment: Environment;
  notificationId: string;
  audience: CampaignAudience;
  prepared: PreparedNotification;
  ratePerSecond?: number;
  /** BullMQ priority of the deliver batches (higher number = after single notifications). */
  priority: number;
  /** Registry audiences larger than this are refused when materialised. */
  maxTokens: number;
}

/** BullMQ job ids may not contain ':' (its key separator). */
export function deliverJobId(notificationId: string, batchNo: number, attempt: number): string {
  return attempt === 0 ? `${notificationId}-${batchNo}` : `${notificationId}-${batchNo}-r${attempt}`;
}

export function fanoutJobId(notificationId: string): string {
  return `${notificationId}-fanout`;
}

/** Single notifications and fan-outs overtake campaign batches: BullMQ runs lower numbers first. */
export const urgentPriority = 1;
