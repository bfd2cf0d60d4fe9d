import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Environment } from '@pushfleet/core';
import { fleetQueuePrefix } from '@pushfleet/queue';
import {
  DeviceRegistry,
  deviceKeys,
  FeedbackFeed,
  type FeedItem,
  storeKeys,
  verifyWebhookSignature,
  webhookSignatureHeader,
  webhookTimestampHeader,
} from '@pushfleet/store';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

/**
 * The whole path through real processes: a campaign over the registry, the simulator answering
 * 410 for some tokens, the worker publishing them, and two scheduler processes polling every
 * second — each dead token purged once, the re-registered one kept.
 */
let server: StartedRedis;
let redis: Redis;
let stack: Stack;
let hook: Server;
const prefix = `test-${randomUUID()}`;
const secret = randomUUID();
/** What the webhook receiver got: items of POSTs whose signature verified, and the bad ones. */
const hooked = { items: [] as FeedItem[], badSignatures: 0 };

before(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const ts = req.headers[webhookTimestampHeader] as string;
      if (verifyWebhookSignature(secret, ts, body, req.headers[webhookSignatureHeader] as string)) {
        hooked.items.push(...(JSON.parse(body) as { items: FeedItem[] }).items);
      } else hooked.badSignatures++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  // The secret reaches the scheduler processes through the environment (secretEnv), not the file.
  process.env.PF_TEST_FEEDBACK_WEBHOOK_SECRET = secret;
  stack = await startStack({
    redisUrl: server.url,
    prefix,
    simulatorArgs: ['--mode', 'validating'],
    config: {
      scheduler: { feedbackPollSeconds: 1, feedbackClaimIdleMs: 5000 },
      apps: {
        demo: {
          feedback: {
            webhook: {
              url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/feedback`,
              secretEnv: 'PF_TEST_FEEDBACK_WEBHOOK_SECRET',
              batchSize: 40,
            },
          },
        },
      },
    },
  });
  await stack.spawn('scheduler');
});

after(async () => {
  await stack?.stop();
  hook?.close();
  redis?.disconnect();
  await server?.stop();
});

test('campaign → simulator marks tokens unregistered → next poll purges them once and publishes them to the feed', async () => {
  const env = stack.sim.environment as Environment;
  const registry = new DeviceRegistry(redis, prefix);
  const tokens = randomDeviceTokens(400);
  const dead = tokens.slice(0, 150);
  const [renewed] = tokens.slice(150, 151) as [string];
  const now = Date.now();
  const failedAt = now - 10 * 60_000;
  await registry.registerMany(
    stack.appId,
    tokens.map((token) => ({ token, environment: env, tags: ['all'] })),
    now - 3600_000,
  );
  for (const token of [...dead, renewed]) {
    await stack.sim.control.unregister({ token, topic: stack.bundleId, timestamp: failedAt });
  }
  // The app registered this token again after Apple's failure timestamp: it must stay.
  await registry.register(stack.appId, { token: renewed, environment: env, tags: ['all'] }, failedAt + 1);

  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ audience: { kind: 'all' }, notification: { alert: 'hello' } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { campaignId } = (await res.json()) as { campaignId: string };
  await waitFor(
    'the campaign to finish',
    async () => {
      const status = (await (
        await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns/${campaignId}`)
      ).json()) as { state: string; rejected: Record<string, number> };
      return status.state === 'done' ? status : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );

  const feed = new FeedbackFeed(redis, prefix);
  const items = await waitFor(
    'the dead tokens in the feed',
    async () => {
      const all = await feed.read(stack.appId, null, 10_000);
      return all.length >= dead.length ? all : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  // Both schedulers keep polling: let three more scheduled runs pass, in which a double
  // application would publish a token again.
  const completed = () => redis.zcard(`${fleetQueuePrefix(prefix)}:scheduler:completed`);
  const base = await completed();
  await waitFor('three more scheduled runs', async () => (await completed()) >= base + 3, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  const final = await feed.read(stack.appId, null, 10_000);
  assert.equal(final.length, dead.length, 'each dead token exactly once');
  assert.deepEqual(new Set(final.map((i) => i.token)), new Set(dead));
  assert.ok(final.every((i) => i.action === 'purged' && i.reason === 'Unregistered'));
  assert.equal(items[0]!.timestamp, new Date(failedAt).toISOString());

  for (const token of dead) assert.equal(await registry.get(stack.appId, env, token), null);
  assert.ok(await registry.get(stack.appId, env, renewed), 'the re-registered token is kept');
  assert.equal(await redis.scard(deviceKeys.all(prefix, stack.appId, env)), tokens.length - dead.length);
  assert.equal(
    await redis.scard(deviceKeys.tag(prefix, stack.appId, env, 'all')),
    tokens.length - dead.length,
  );

  // The webhook got every purged token, signed, in feed order.
  await waitFor('the webhook to receive every item', () => hooked.items.length >= dead.length, {
    timeoutMs: 20_000,
  });
  assert.equal(hooked.badSignatures, 0);
  assert.deepEqual(
    hooked.items.map((i) => i.id),
    final.map((i) => i.id),
  );

  // Scrape the first scheduler: the catalogue is there and agrees with what it did.
  const metrics = await (await fetch(`http://127.0.0.1:${stack.opsPorts.scheduler}/metrics`)).text();
  assert.match(metrics, /pushfleet_feedback_lag_seconds \d/);
  assert.match(metrics, /pushfleet_scheduled_runs_total\{schedule="feedback-poll",result="ok"\} [1-9]/);
});

test('the input stream is fully acknowledged: feedback lag falls back to 0', async () => {
  const pending = (await redis.xpending(storeKeys.feedbackStream(prefix, stack.appId), 'purger')) as [number];
  assert.equal(pending[0], 0);
  const metrics = await (await fetch(`http://127.0.0.1:${stack.opsPorts.scheduler}/metrics`)).text();
  assert.match(metrics, /^pushfleet_feedback_lag_seconds 0$/m);
});
