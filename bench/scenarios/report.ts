// The campaign report at scale: a campaign's ledger as a fleet leaves it after `--tokens` tokens
// with `--share` of them not delivered, written straight through the ledger API (no APNs needed),
// then the report streamed from a real api process: raw CSV and NDJSON over HTTP, and the SDK's
// async iterator, and the CLI writing a file. Measures seconds to the last line and the api's RSS while it streams.
// Usage: node --import tsx bench/scenarios/report.ts [--tokens 1000000] [--share 0.1] [--json]

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PushfleetClient } from '@pushfleet/client';
import { createRedis } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import { repoRoot, startRedis, startStack } from '@pushfleet/testkit';
import { mb, rssOf, tokenStream } from '../../tests/producers/proc.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '1000000' },
    share: { type: 'string', default: '0.1' },
    json: { type: 'boolean', default: false },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const total = Number(values.tokens);
const share = Number(values.share);
/** The deliver job size the fan-out uses (≤ 500 tokens per batch). */
const batchSize = 500;
/** The target: a 1M-token campaign's report (100,000 lines at 10%) in ≤ 5 s; pro rata above. */
const targetSeconds = 5 * Math.max(1, total / 1_000_000);

/**
 * How a batch's tokens that did not end delivered split, roughly as a real audience's do:
 * mostly uninstalled apps (410), some malformed tokens, throttling that outlived the retries,
 * notifications that expired while APNs was away.
 */
const mix = [
  { outcome: 'rejected', reason: 'Unregistered', part: 0.6 },
  { outcome: 'rejected', reason: 'BadDeviceToken', part: 0.2 },
  { outcome: 'failed', reason: 'TooManyRequests', part: 0.1 },
  { outcome: 'expired', reason: 'Expired', part: 0.1 },
] as const;

const redisServer = await startRedis();
const prefix = `bench-report-${randomUUID().slice(0, 8)}`;
const stack = await startStack({ redisUrl: redisServer.url, prefix, apps: ['api'] });
const redis = createRedis(redisServer.url, 'worker');
await redis.connect();
try {
  const ledger = new Ledger(redis, prefix);
  const app = stack.appId;
  const id = `report-${randomUUID().slice(0, 8)}`;
  const now = Date.now();
  const tx = redis.multi();
  ledger.records.stageCampaign(tx, {
    app,
    id,
    environment: 'sandbox',
    audience: 'upload',
    total,
    now,
    delayMs: 0,
  });
  await tx.exec();

  const writeStarted = performance.now();
  const tokens = tokenStream(total, now & 0xffffff);
  const batches = Math.ceil(total / batchSize);
  let notDelivered = 0;
  const inFlight: Promise<unknown>[] = [];
  for (let b = 0; b < batches; b++) {
    const size = Math.min(batchSize, total - b * batchSize);
    const batch = Array.from({ length: size }, () => tokens.next().value as string);
    const failing = Math.round(size * share);
    let at = 0;
    const ended = mix.map((m, i) => {
      const n = i === mix.length - 1 ? failing - at : Math.round(failing * m.part);
      const group = { outcome: m.outcome, reason: m.reason, tokens: batch.slice(at, at + n) };
      at += n;
      return group;
    });
    notDelivered += failing;
    inFlight.push(
      ledger.batches.record(
        { app, environment: 'sandbox', notificationId: id, batchNo: b, attempt: 0 },
        {
          after: '',
          outcomes: {
            delivered: size - failing,
            ended: ended.filter((g) => g.tokens.length > 0),
            invalidated: [],
          },
          state: 'done',
          now: now + b,
        },
      ),
    );
    if (inFlight.length === 200) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  log(
    `ledger: ${total.toLocaleString('en-US')} tokens in ${batches} batches, ${notDelivered.toLocaleString('en-US')} not delivered, ` +
      `written in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s`,
  );
  const status = (await (await fetch(`${stack.apiUrl}/v1/apps/${app}/campaigns/${id}`)).json()) as {
    delivered: number;
    rejected: Record<string, number>;
  };
  log(`campaign status: ${JSON.stringify({ delivered: status.delivered, rejected: status.rejected })}`);

  const pid = stack.processes.get('api')!.process.pid!;
  const url = `${stack.apiUrl}/v1/apps/${app}/campaigns/${id}/report`;
  const client = new PushfleetClient({ baseUrl: stack.apiUrl });

  /** Runs one read of the whole report, sampling the api's RSS every 20 ms. */
  async function measure(name: string, read: () => Promise<{ lines: number; bytes?: number }>) {
    const rssBefore = rssOf(pid).rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(pid).rss);
    }, 20);
    const started = performance.now();
    const { lines, bytes } = await read();
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(pid).rss);
    const result = {
      name,
      lines,
      mb: bytes === undefined ? null : Number((bytes / 1048576).toFixed(1)),
      seconds: Number(seconds.toFixed(2)),
      linesPerSecond: Math.round(lines / seconds),
      apiRssBeforeMb: mb(rssBefore),
      apiRssPeakMb: mb(peak),
      apiRssGrowthMb: mb(peak - rssBefore),
      withinTarget: seconds <= targetSeconds && lines === notDelivered,
    };
    log(
      `${name.padEnd(16)} ${lines.toLocaleString('en-US')} lines${result.mb === null ? '' : ` (${result.mb} MB)`} in ${result.seconds} s ` +
        `(${result.linesPerSecond.toLocaleString('en-US')}/s); api RSS ${result.apiRssBeforeMb} → peak ${result.apiRssPeakMb} MB ` +
        `(+${result.apiRssGrowthMb} MB)${result.withinTarget ? '' : `  ✗ target: every line in ≤ ${targetSeconds} s`}`,
    );
    return result;
  }

  const raw = (format: 'csv' | 'ndjson') => async () => {
    const res = await fetch(`${url}?format=${format}`);
    if (!res.ok) throw new Error(`report: ${res.status} ${await res.text()}`);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body!) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
    return { lines: format === 'csv' ? lines - 1 : lines, bytes };
  };
  const results = [
    await measure('http csv', raw('csv')),
    await measure('http ndjson', raw('ndjson')),
    await measure('sdk iterator', async () => {
      // Typed rows, parsed one by one: the body's size is not seen at this level.
      let lines = 0;
      for await (const row of client.campaignReport(app, id)) if (row.token) lines++;
      return { lines };
    }),
    await measure('cli > file', async () => {
      // The acceptance command, as a user types it: `pushfleet campaign report ID > failed.csv`
      // (process start and tsx compilation included).
      const file = join(tmpdir(), `${id}.csv`);
      const out = openSync(file, 'w');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'apps/cli/src/main.ts', 'campaign', 'report', id, '--app', app],
        { cwd: repoRoot, env: { ...process.env, PF_URL: stack.apiUrl }, stdio: ['ignore', out, 'inherit'] },
      );
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      closeSync(out);
      if (code !== 0) throw new Error(`pushfleet campaign report exited ${code}`);
      const text = readFileSync(file);
      rmSync(file);
      let lines = 0;
      for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) lines++;
      return { lines: lines - 1, bytes: text.length };
    }),
  ];
  const report = {
    date: new Date().toISOString(),
    tokens: total,
    notDelivered,
    batches,
    targetSeconds,
    results,
  };
  mkdirSync(`${repoRoot}/bench/results`, { recursive: true });
  writeFileSync(`${repoRoot}/bench/results/report-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = results.every((r) => r.withinTarget) ? 0 : 1;
} finally {
  redis.disconnect();
  await stack.stop();
  await redisServer.stop();
}
