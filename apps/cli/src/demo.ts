import { randomBytes, randomUUID } from 'node:crypto';
import { type CampaignStatus, PushfleetClient } from '@pushfleet/client';
import { prometheusBinary, prometheusMissing, type Stack, startRedis, startStack } from '@pushfleet/testkit';

export interface DemoOptions {
  count: number;
  json: boolean;
  serve: boolean;
  /** Also run Prometheus against the fleet and evaluate the dashboard (see demo-observe.ts). */
  observe?: boolean;
}

export interface DemoSummary {
  accepted: number;
  delivered: number;
  rejected: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

export const progress = (line: string) => process.stderr.write(`\r${line}\x1b[K`);

/** Generated device tokens, streamed: the upload never holds the whole list in memory. */
export function* generatedTokens(count: number): Generator<string> {
  for (let i = 0; i < count; i++) yield randomBytes(32).toString('hex');
}

function sum(byReason: Record<string, number>): number {
  return Object.values(byReason).reduce((a, b) => a + b, 0);
}

export function summarize(status: CampaignStatus, startedAt: number): DemoSummary {
  const finishedAt = status.finishedAt ? Date.parse(status.finishedAt) : Date.now();
  const seconds = Math.max(0.001, Number(((finishedAt - startedAt) / 1000).toFixed(3)));
  return {
    accepted: status.total ?? status.accepted,
    delivered: status.delivered,
    rejected: sum(status.rejected),
    failed: status.failed + status.expired + status.cancelled,
    seconds,
    perSecond: Math.round(status.delivered / seconds),
  };
}

/**
 * The demo: a real fleet (Redis, simulator, api, worker, scheduler as processes) delivering a
 * campaign of `count` generated tokens, uploaded through the HTTP API with the SDK, until every
 * notification is accounted for.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  if (options.observe) {
    if (prometheusBinary()) return (await import('./demo-observe.ts')).runObservedDemo(options);
    process.stderr.write(`--observe: ${prometheusMissing}. Running the demo without it.\n`);
  }
  const redis = await startRedis();
  let stack: Stack | undefined;
  try {
    progress(`starting fleet (redis: ${redis.source})…`);
    stack = await startStack({ redisUrl: redis.url, prefix: `pushfleet-demo-${randomUUID().slice(0, 8)}` });
    const client = new PushfleetClient({ baseUrl: stack.apiUrl });
    const startedAt = Date.now();
    const { campaignId } = await client.uploadCampaign(
      stack.appId,
      {
        name: 'demo',
        notification: { alert: { title: 'Pushfleet demo', body: 'Hello from the fleet' }, sound: 'default' },
      },
      () => generatedTokens(options.count),
    );
    const final = await client.waitForCampaign(stack.appId, campaignId, {
      intervalMs: 200,
      onProgress: (s) => progress(progressLine(s, startedAt)),
    });
    process.stderr.write('\n');
    const summary = summarize(final, startedAt);
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `delivered ${summary.delivered} of ${summary.accepted} (rejected ${summary.rejected}, failed ${summary.failed}) ` +
          `in ${summary.seconds} s: ${summary.perSecond} notifications/s\n`,
      );
    }
    if (options.serve) await serveUntilSignal(stack);
    const accountedFor = summary.delivered + summary.rejected + summary.failed === summary.accepted;
    return accountedFor && summary.accepted === options.count ? 0 : 1;
  } finally {
    await stack?.stop();
    await redis.stop();
  }
}

/** One progress line: state, counts and rate so far. */
export function progressLine(s: CampaignStatus, startedAt: number): string {
  const elapsed = Math.max(0.001, (Date.now() - startedAt) / 1000);
  return (
    `${s.state.padEnd(9)} total ${s.total ?? '…'}  delivered ${s.delivered}  rejected ${sum(s.rejected)}  ` +
    `failed ${s.failed}  ${Math.round(s.delivered / elapsed)}/s`
  );
}

/** Prints where the fleet listens (plus `extra` lines) and waits for Ctrl-C or SIGTERM. */
export async function serveUntilSignal(stack: Stack, extra = ''): Promise<void> {
  process.stderr.write(
    `fleet running — Ctrl-C to stop\n  api:        ${stack.apiUrl}  (docs: ${stack.apiUrl}/docs)\n` +
      `  simulator:  https://127.0.0.1:${stack.sim.port} (control http://127.0.0.1:${stack.sim.controlPort})\n` +
      `  metrics:    worker http://127.0.0.1:${stack.opsPorts.worker}/metrics, ` +
      `scheduler http://127.0.0.1:${stack.opsPorts.scheduler}/metrics\n` +
      `  config:     ${stack.configFile}\n${extra}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
