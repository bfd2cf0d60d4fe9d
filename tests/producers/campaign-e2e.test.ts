import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { PushfleetClient } from '@pushfleet/client';
import { type Stack, type StartedRedis, startRedis, startStack, waitFor } from '@pushfleet/testkit';
import { mb, rssOf, tokenStream } from './proc.ts';

/**
 * An uploaded campaign end to end: streamed upload through the api process (flat memory), fan-out,
 * real worker processes, the simulator in fast mode; every token accounted for. 50,000 tokens in
 * the normal suite; PF_HEAVY=1 runs the 1,000,000-token version and prints the figures.
 */
const heavy = process.env.PF_HEAVY === '1';
const count = Number(process.env.PF_CAMPAIGN_TOKENS ?? (heavy ? 1_000_000 : 50_000));

let redis: StartedRedis;
let stack: Stack;

before(async () => {
  redis = await startRedis();
  const prefix = `test-${randomUUID()}`;
  stack = await startStack({
    redisUrl: redis.url,
    prefix,
    apps: ['api', 'worker'],
    simulatorArgs: ['--mode', 'fast'],
    config: { api: { auth: { required: false } } },
  });
});

after(async () => {
  await stack?.stop();
  await redis?.stop();
});

test(`uploaded campaign of ${count} tokens: accepted with flat api memory, completes, every token accounted for`, {
  timeout: heavy ? 900_000 : 90_000,
}, async () => {
  const client = new PushfleetClient({ baseUrl: stack.apiUrl });
  const apiPid = stack.processes.get('api')!.process.pid!;
  const before = rssOf(apiPid);
  let sampledPeak = before.rss;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, rssOf(apiPid).rss);
  }, 50);

  const t0 = Date.now();
  const created = await client.uploadCampaign(
    stack.appId,
    { name: 'e2e', notification: { alert: { title: 'Campaign', body: 'to everyone' } } },
    () => tokenStream(count, 0xc0ffee),
  );
  const acceptSeconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const afterUpload = rssOf(apiPid);
  assert.equal(created.total, count);

  const final = await waitFor(
    'campaign done',
    async () => {
      const s = await client.getCampaign(stack.appId, created.campaignId);
      return s.state === 'done' ? s : undefined;
    },
    { timeoutMs: heavy ? 840_000 : 80_000, intervalMs: 250 },
  );
  const doneSeconds = (Date.now() - t0) / 1000;
  const rejected = Object.values(final.rejected).reduce((a, b) => a + b, 0);
  assert.equal(final.total, count);
  assert.equal(final.accepted, count);
  assert.equal(final.delivered + rejected + final.failed + final.expired + final.cancelled, count);
  assert.equal(final.delivered, count, JSON.stringify(final));
  const sim = await stack.sim.control.deliveriesSummary();
  assert.ok(sim.deliveries >= count, `simulator saw ${sim.deliveries} deliveries`);

  const figures = {
    tokens: count,
    acceptSeconds: Number(acceptSeconds.toFixed(2)),
    acceptedTokensPerSecond: Math.round(count / acceptSeconds),
    apiRssBeforeMb: mb(before.rss),
    apiRssPeakDuringUploadMb: mb(Math.max(sampledPeak, afterUpload.rss)),
    apiVmHwmMb: mb(afterUpload.peak),
    completeSeconds: Number(doneSeconds.toFixed(1)),
    deliveredPerSecond: Math.round(count / doneSeconds),
    simulatorDeliveries: sim.deliveries,
  };
  process.stderr.write(`campaign figures: ${JSON.stringify(figures)}\n`);
  // Flat memory: the upload is streamed, so the api grows by far less than the list itself
  // (count × 65 bytes of text, ×2–3 as JS strings) would need.
  assert.ok(
    Math.max(sampledPeak, afterUpload.rss) - before.rss < 150 * 1024 * 1024,
    `api RSS grew from ${mb(before.rss)} MB to ${mb(sampledPeak)} MB`,
  );
});
