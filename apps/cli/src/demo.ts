import { randomUUID } from 'node:crypto';
import { randomDeviceTokens, type Stack, startRedis, startStack } from '@pushfleet/testkit';

export interface DemoOptions {
  count: number;
  json: boolean;
  serve: boolean;
  /** Tokens per API request (the endpoint's limit is 1000). */
  batch: number;
  /** API requests in flight at once. */
  parallel: number;
}

export interface DemoSummary {
  accepted: number;
  delivered: number;
  rejected: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

interface Status {
  accepted: number;
  delivered: number;
  rejected: number;
  failed: number;
  expired: number;
  cancelled: number;
  state: string;
  finishedAt: string | null;
}

const progress = (line: string) => process.stderr.write(`\r${line}\x1b[K`);

async function postBatch(stack: Stack, tokens: string[]): Promise<{ id: string; accepted: number }> {
  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      tokens,
      notification: { alert: { title: 'Pushfleet demo', body: 'Hello from the fleet' }, sound: 'default' },
    }),
  });
  if (res.status !== 202) throw new Error(`API answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; accepted: number };
}

async function sendAll(stack: Stack, options: DemoOptions): Promise<{ ids: string[]; accepted: number }> {
  const tokens = randomDeviceTokens(options.count);
  const batches: string[][] = [];
  for (let i = 0; i < tokens.length; i += options.batch) batches.push(tokens.slice(i, i + options.batch));
  const ids: string[] = [];
  let accepted = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: options.parallel }, async () => {
      while (next < batches.length) {
        const result = await postBatch(stack, batches[next++]!);
        ids.push(result.id);
        accepted += result.accepted;
      }
    }),
  );
  return { ids, accepted };
}

async function readStatuses(stack: Stack, ids: string[]): Promise<Status[]> {
  return Promise.all(
    ids.map(async (id) => {
      const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications/${id}`);
      if (!res.ok) throw new Error(`status of ${id}: HTTP ${res.status}`);
      return (await res.json()) as Status;
    }),
  );
}

/**
 * The demo: a real fleet (Redis, simulator, api, worker, scheduler as processes) delivering
 * `count` notifications sent through the HTTP API, until every one is accounted for.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const redis = await startRedis();
  let stack: Stack | undefined;
  try {
    progress(`starting fleet (redis: ${redis.source})…`);
    stack = await startStack({ redisUrl: redis.url, prefix: `pushfleet-demo-${randomUUID().slice(0, 8)}` });
    const t0 = Date.now();
    const { ids, accepted } = await sendAll(stack, options);
    let totals: Omit<DemoSummary, 'seconds' | 'perSecond'> & { finishedAt: number; done: boolean };
    for (;;) {
      const statuses = await readStatuses(stack, ids);
      totals = { accepted, delivered: 0, rejected: 0, failed: 0, finishedAt: 0, done: true };
      for (const s of statuses) {
        totals.delivered += s.delivered;
        totals.rejected += s.rejected;
        totals.failed += s.failed + s.expired + s.cancelled;
        totals.done &&= s.state === 'done';
        if (s.finishedAt) totals.finishedAt = Math.max(totals.finishedAt, Date.parse(s.finishedAt));
      }
      const elapsed = (Date.now() - t0) / 1000;
      progress(
        `accepted ${accepted}  delivered ${totals.delivered}  rejected ${totals.rejected}  failed ${totals.failed}  ` +
          `${Math.round(totals.delivered / Math.max(elapsed, 0.001))}/s`,
      );
      if (totals.done) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    process.stderr.write('\n');
    const seconds = Math.max(0.001, (totals.finishedAt - t0) / 1000);
    const summary: DemoSummary = {
      accepted: totals.accepted,
      delivered: totals.delivered,
      rejected: totals.rejected,
      failed: totals.failed,
      seconds: Number(seconds.toFixed(3)),
      perSecond: Math.round(totals.delivered / seconds),
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `delivered ${summary.delivered} of ${summary.accepted} (rejected ${summary.rejected}, failed ${summary.failed}) ` +
          `in ${summary.seconds} s: ${summary.perSecond} notifications/s\n`,
      );
    }
    if (options.serve) await serve(stack);
    const accountedFor = summary.delivered + summary.rejected + summary.failed === summary.accepted;
    return accountedFor && summary.accepted === options.count ? 0 : 1;
  } finally {
    await stack?.stop();
    await redis.stop();
  }
}

async function serve(stack: Stack): Promise<void> {
  process.stderr.write(
    `fleet running — Ctrl-C to stop\n  api:        ${stack.apiUrl}\n` +
      `  simulator:  https://127.0.0.1:${stack.sim.port} (control http://127.0.0.1:${stack.sim.controlPort})\n` +
      `  config:     ${stack.configFile}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
