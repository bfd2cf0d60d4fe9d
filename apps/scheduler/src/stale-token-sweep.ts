import { sweepStaleTokens } from '@pushfleet/store';
import type { SchedulerContext } from './context.ts';

const dayMs = 24 * 3600_000;

/** The `stale-token-sweep` job: publishes `Stale` events; the feedback poll retires them by the same rule. */
export async function runStaleTokenSweep(ctx: SchedulerContext): Promise<number> {
  const now = ctx.now();
  const cutoff = now - ctx.config.scheduler.staleTokenDays * dayMs;
  let total = 0;
  for (const app of ctx.directory.ids()) {
    const appConfig = ctx.directory.get(app)?.config;
    if (!appConfig) continue;
    for (const environment of appConfig.environments) {
      const n = await sweepStaleTokens(ctx.redis, ctx.prefix, app, environment, { cutoff, now });
      ctx.metrics.staleTokens.inc({ app, environment }, n);
      total += n;
    }
  }
  ctx.log.info({ stale: total, cutoff: new Date(cutoff).toISOString() }, 'stale-token sweep done');
  return total;
}
