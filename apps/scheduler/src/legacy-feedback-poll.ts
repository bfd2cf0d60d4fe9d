import { readFileSync } from 'node:fs';
import { readLegacyFeedback } from '@pushfleet/apns';
import type { AppConfig } from '@pushfleet/config';
import { publishFeedbackEvents } from '@pushfleet/store';
import type { SchedulerContext } from './context.ts';

type LegacyEndpoint = NonNullable<NonNullable<AppConfig['feedback']>['legacyEndpoint']>;

const read = (file: string | undefined) => (file ? readFileSync(file) : undefined);

/**
 * Reads one app's legacy feedback endpoint and publishes each tuple as an `Unregistered` event
 * (timestamp = tuple time × 1000) into the feedback stream, so the same rule applies. The
 * server clears its list once read, so publishing comes first and in one step; files are read
 * every time, so a renewed certificate needs no restart.
 */
export async function pollLegacyFeedback(
  ctx: SchedulerContext,
  app: string,
  appConfig: AppConfig,
  endpoint: LegacyEndpoint,
): Promise<number> {
  const tuples = await readLegacyFeedback({
    host: endpoint.host,
    port: endpoint.port,
    caPem: read(endpoint.caFile)?.toString('utf8'),
    certPem: read(endpoint.certFile)?.toString('utf8'),
    keyPem: read(endpoint.keyFile)?.toString('utf8'),
    pfx: read(endpoint.pfxFile),
    passphrase: endpoint.passphrase,
    timeoutMs: endpoint.timeoutMs,
  });
  const environment = endpoint.environment ?? appConfig.environments[0]!;
  await publishFeedbackEvents(
    ctx.redis,
    ctx.prefix,
    tuples.map((t) => ({
      app,
      environment,
      token: t.token,
      reason: 'Unregistered',
      timestamp: t.time * 1000,
    })),
  );
  return tuples.length;
}

/** The `legacy-feedback-poll` job: every app with `feedback.legacyEndpoint`; one failing app does not stop the rest. */
export async function runLegacyFeedbackPoll(ctx: SchedulerContext): Promise<number> {
  let total = 0;
  const errors: Error[] = [];
  for (const app of ctx.directory.ids()) {
    const appConfig = ctx.directory.get(app)?.config;
    if (!appConfig) continue;
    const endpoint = appConfig.feedback?.legacyEndpoint;
    if (!endpoint) continue;
    try {
      const n = await pollLegacyFeedback(ctx, app, appConfig, endpoint);
      total += n;
      ctx.metrics.legacyFeedbackReads.inc({ app, result: 'ok' });
      ctx.metrics.legacyFeedbackTuples.inc({ app }, n);
      ctx.log.info({ app, tuples: n }, 'legacy feedback read');
    } catch (err) {
      ctx.metrics.legacyFeedbackReads.inc({ app, result: 'error' });
      ctx.log.error({ app, err }, 'legacy feedback read failed');
      errors.push(err as Error);
    }
  }
  if (errors.length > 0)
    throw new AggregateError(errors, `legacy feedback failed for ${errors.length} app(s)`);
  return total;
}
