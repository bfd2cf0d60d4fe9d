import type { PreparedBroadcast } from './broadcast.ts';
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

/** What every deliver job has: where it counts, which attempt, and what it goes to. */
interface DeliverJobBase {
  app: string;
  environment: Environment;
  /** The ledger record this batch counts into (a notification's, campaign's or broadcast's id). */
  notificationId: string;
  /** Position of this batch within its notification or campaign; with attempt, names the job. */
  batchNo: number;
  /**
   * What the batch goes to, as the ledger counts and reports it: device tokens; activity ids
   * (`target: 'activity'`); for a broadcast, its one channel's name.
   */
  tokens: string[];
  /** How many times these tokens were already tried (0 on the first job, n on the n-th retry job). */
  attempt: number;
}

/** One prepared notification to a batch of device tokens (or activities) of one app × environment. */
export interface DeviceDeliverJobData extends DeliverJobBase {
  prepared: PreparedNotification;
  /**
   * `activity`: `tokens` are Live Activity ids, each resolved to its current update token when
   * the batch is sent (a rotation after the request was accepted is followed).
   */
  target?: 'activity';
  broadcast?: undefined;
}

/** One broadcast to one channel (docs/apns-protocol.md §F.2): `tokens` is `[channel name]`. */
export interface BroadcastDeliverJobData extends DeliverJobBase {
  prepared: PreparedBroadcast;
  /** APNs' id of the channel, resolved when the broadcast was accepted. */
  broadcast: { channelId: string };
  target?: undefined;
}

/** A deliver job: the app's queue runs both kinds under the same name and ledger machinery. */
export type DeliverJobData = DeviceDeliverJobData | BroadcastDeliverJobData;

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
