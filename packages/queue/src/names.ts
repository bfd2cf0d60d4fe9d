/**
 * One deliver queue per app, so one app's rate limit, outage or bad credentials never holds up
 * another's; every worker drains every app's queue.
 */
export function deliverQueueName(app: string): string {
  return `deliver-${app}`;
}

/** BullMQ job ids may not contain ':' (its key separator). */
export function deliverJobId(notificationId: string, batchNo: number, attempt: number): string {
  return attempt === 0 ? `${notificationId}-${batchNo}` : `${notificationId}-${batchNo}-r${attempt}`;
}
