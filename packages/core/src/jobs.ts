import type { Environment } from './environment.ts';
import type { PreparedNotification } from './notification.ts';

/** One deliver job: one prepared notification and a batch of tokens for one app × environment. */
export interface DeliverJobData {
  app: string;
  environment: Environment;
  notificationId: string;
  /** Position of this batch within its notification or campaign; with attempt, makes job ids deterministic. */
  batchNo: number;
  prepared: PreparedNotification;
  tokens: string[];
  /** How many times these tokens were already tried (0 on the first job). */
  attempt: number;
}
