// Producer-side throughput: API single-notification requests/s (one token each, N in flight),
// campaign upload tokens/s accepted by the API, direct-enqueue tokens/s (DirectProducer).
// Usage: node --import tsx bench/scenarios/enqueue.ts [--requests 20000] [--concurrency 64]
//        [--campaign 1000000] [--direct 1000000] [--json]
// Runs a real api process (no worker: only enqueueing is measured) on a spawned Redis.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { PushfleetClient } from '@pushfleet/client';
import { configSchema } from '@pushfleet/config';
import { connectRedis, createRedis, DirectProducer } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import { startRedis, startStack } from '@pushfleet/testkit';
import { mb, rssOf, tokenStream } from '../../tests/producers/proc.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    campaign: { type: 'string', default: '1000000' },
    direct: { type: 'string', default: '1000000' },
    json: { type: 'boolean', default: false },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);

const redisServer = await startRedis();
const prefix = `bench-${randomUUID().slice(0, 8)}`;
const stack = await startStack({
  redisUrl: redisServer.url,
  prefix,
  apps: ['api'],
  simulatorArgs: ['--mode', 'fast'],
  // Measure the api, not its per-client rate limit.
  config: { api: { rateLimit: { requestsPerSecond: 1_000_000, burst: 1_000_000 } } },
});
const results: Record<string, number> = {};
try {
  // 1. Single-notification requests through the API, keep-alive, N in flight.
  const total = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`);
  const post = (body: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const tokens = tokenStream(total, 0xbe);
  let next = 0;
  let failures = 0;
  const statuses: Record<number, number> = {};
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const body = JSON.stringify({
          tokens: [tokens.next().value],
          notification: { alert: { title: 'Hi', body: 'bench' } },
        });
        const status = await post(body);
        if (status !== 202) {
          failures++;
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  results.apiRequestsPerSecond = Math.round(total / seconds);
  results.apiRequestFailures = failures;
  agent.destroy();
  log(
    `api single notifications: ${total} requests in ${seconds.toFixed(2)} s = ${results.apiRequestsPerSecond}/s (${failures} failed: ${JSON.stringify(statuses)})`,
  );

  // 2. Campaign upload through the API.
  const campaignTokens = Number(values.campaign);
  const client = new PushfleetClient({ baseUrl: stack.apiUrl });
  const pid = stack.processes.get('api')!.process.pid!;
  const rssBefore = rssOf(pid).rss;
  let peak = rssBefore;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid).rss)), 50);
  const t1 = performance.now();
  await client.uploadCampaign(stack.appId, { notification: { alert: 'bench' } }, () =>
    tokenStream(campaignTokens, 0xca),
  );
  const campaignSeconds = (performance.now() - t1) / 1000;
  clearInterval(sampler);
  results.campaignTokensPerSecond = Math.round(campaignTokens / campaignSeconds);
  results.campaignApiRssBeforeMb = mb(rssBefore);
  results.campaignApiRssPeakMb = mb(peak);
  log(
    `campaign upload: ${campaignTokens} tokens accepted in ${campaignSeconds.toFixed(2)} s = ${results.campaignTokensPerSecond}/s; ` +
      `api RSS ${mb(rssBefore)} → peak ${mb(peak)} MB`,
  );

  // 3. Direct enqueue (shared Redis), one notification to N tokens: addBulk in chunks.
  const directTokens = Number(values.direct);
  const config = configSchema.parse(
    JSON.parse((await import('node:fs')).readFileSync(stack.configFile, 'utf8')),
  );
  const redis = createRedis(redisServer.url, 'producer');
  await connectRedis(redis);
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: (id) => config.apps[id],
    ledger: new Ledger(redis, prefix),
  });
  const list = [...tokenStream(directTokens, 0xd1)];
  const t2 = performance.now();
  await producer.send(stack.appId, { tokens: list, notification: { alert: 'direct' } });
  const directSeconds = (performance.now() - t2) / 1000;
  results.directTokensPerSecond = Math.round(directTokens / directSeconds);
  log(
    `direct enqueue: ${directTokens} tokens in ${directSeconds.toFixed(2)} s = ${results.directTokensPerSecond}/s`,
  );
  const t3 = performance.now();
  await producer.createCampaign(
    stack.appId,
    { notification: { alert: 'direct campaign' } },
    tokenStream(directTokens, 0xd2),
  );
  const directCampaignSeconds = (performance.now() - t3) / 1000;
  results.directCampaignTokensPerSecond = Math.round(directTokens / directCampaignSeconds);
  log(
    `direct campaign: ${directTokens} tokens stored in ${directCampaignSeconds.toFixed(2)} s = ${results.directCampaignTokensPerSecond}/s`,
  );
  await producer.close();
  redis.disconnect();
} finally {
  await stack.stop();
  await redisServer.stop();
}
if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
