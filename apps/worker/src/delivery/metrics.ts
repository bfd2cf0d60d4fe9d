import type { SendResult, StepOutcomes } from '@pushfleet/core';
import type { DeliveryMetrics } from '@pushfleet/telemetry';

type Labels = { app: string; environment: string };

/**
 * `pushfleet_notifications_total` for one recorded step (only steps the ledger applied); a
 * broadcast's step counts in `pushfleet_broadcasts_total{app,result}` instead.
 */
export function countOutcomes(
  metrics: DeliveryMetrics,
  labels: Labels,
  o: StepOutcomes,
  broadcast = false,
): void {
  if (broadcast) {
    if (o.delivered > 0) metrics.broadcasts.inc({ app: labels.app, result: 'delivered' }, o.delivered);
    for (const g of o.ended) metrics.broadcasts.inc({ app: labels.app, result: g.outcome }, g.tokens.length);
    return;
  }
  if (o.delivered > 0)
    metrics.notifications.inc({ ...labels, outcome: 'delivered', reason: '' }, o.delivered);
  for (const group of o.ended) {
    metrics.notifications.inc(
      { ...labels, outcome: group.outcome, reason: group.reason },
      group.tokens.length,
    );
  }
}

/** `pushfleet_apns_responses_total`: every APNs answer, including those retried later. */
export function countResponses(metrics: DeliveryMetrics, labels: Labels, results: SendResult[]): void {
  let accepted = 0;
  for (const r of results) {
    if (r.kind === 'accepted') accepted++;
    else if (r.kind === 'failed')
      metrics.apnsResponses.inc({
        ...labels,
        status: 'none',
        reason: r.credentials ? 'CredentialsError' : 'ConnectionError',
      });
    else metrics.apnsResponses.inc({ ...labels, status: String(r.status), reason: r.reason });
  }
  if (accepted > 0) metrics.apnsResponses.inc({ ...labels, status: '200', reason: '' }, accepted);
}
