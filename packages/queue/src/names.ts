/**
 * One queue per app, so one app's rate limit, outage or bad credentials never holds up another's;
 * it carries the app's deliver batches and campaign fan-outs alike.
 */
export function deliverQueueName(app: string): string {
  return `deliver-${app}`;
}
