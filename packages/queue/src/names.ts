import { appSpace, globalSpace } from '@pushfleet/store';

/**
 * One queue per app, so one app's rate limit, outage or bad credentials never holds up another's;
 * it carries the app's deliver batches and campaign fan-outs alike. Its BullMQ name is the same
 * for every app; its prefix is the app's key space (its own Redis Cluster slot, beside the app's
 * ledger records, so a record and its jobs are written in one transaction).
 */
export const appQueueName = 'deliver';

/** BullMQ `{ prefix }` of an app's queue. */
export function appQueuePrefix(prefix: string, app: string): string {
  return appSpace(prefix, app);
}

/** BullMQ `{ prefix }` of the fleet's own queues (scheduler jobs, webhooks). */
export function fleetQueuePrefix(prefix: string): string {
  return globalSpace(prefix);
}

/** How an app's queue is named in metrics, logs and the CLI (`deliver-<app>`). */
export function deliverQueueName(app: string): string {
  return `${appQueueName}-${app}`;
}

/** Where a BullMQ queue lives, and how metrics and the CLI call it. */
export interface QueueRef {
  label: string;
  name: string;
  prefix: string;
}

export function appQueueRef(prefix: string, app: string): QueueRef {
  return { label: deliverQueueName(app), name: appQueueName, prefix: appQueuePrefix(prefix, app) };
}

export function fleetQueueRef(prefix: string, name: string): QueueRef {
  return { label: name, name, prefix: fleetQueuePrefix(prefix) };
}
