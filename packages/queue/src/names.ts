import { appSpace, globalSpace } from '@pushfleet/store';

/**
 * Each app has its own queues, so one app's rate limit, outage or bad credentials never holds up
 * another's. `deliver` carries the app's batches and campaign fan-outs; `express` its deliver jobs
 * of one token (see `expressQueueName`). Their BullMQ names are the same for every app; their
 * prefix is the app's key space (its own Redis Cluster slot, beside the app's ledger records, so a
 * record and its jobs are written in one transaction).
 */
export const appQueueName = 'deliver';

/**
 * The app's queue of single-token deliver jobs: one notification to one device, the API's usual
 * send, and a retry of one token. Workers run it on an event loop of its own, so a single send
 * does not wait for the turns another app's campaign takes on the same worker (measured: B's
 * p99 31 ms on one loop, 10 ms on its own, BENCHMARKS.md "Fairness").
 */
export const expressQueueName = 'express';

/** An app's queues, in the order they are read. */
export const appQueueNames = [appQueueName, expressQueueName] as const;
export type AppQueueName = (typeof appQueueNames)[number];

/** BullMQ `{ prefix }` of an app's queue. */
export function appQueuePrefix(prefix: string, app: string): string {
  return appSpace(prefix, app);
}

/** BullMQ `{ prefix }` of the fleet's own queues (scheduler jobs, webhooks). */
export function fleetQueuePrefix(prefix: string): string {
  return globalSpace(prefix);
}

/** How an app's queue is named in metrics, logs and the CLI (`deliver-<app>`, `express-<app>`). */
export function deliverQueueName(app: string, name: AppQueueName = appQueueName): string {
  return `${name}-${app}`;
}

/** Where a BullMQ queue lives, and how metrics and the CLI call it. */
export interface QueueRef {
  label: string;
  name: string;
  prefix: string;
}

/** Both queues of an app. */
export function appQueueRefs(prefix: string, app: string): QueueRef[] {
  return appQueueNames.map((name) => ({
    label: deliverQueueName(app, name),
    name,
    prefix: appQueuePrefix(prefix, app),
  }));
}

export function fleetQueueRef(prefix: string, name: string): QueueRef {
  return { label: name, name, prefix: fleetQueuePrefix(prefix) };
}
