import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import {
  type FeedItem,
  verifyWebhookSignature,
  webhookSignatureHeader,
  webhookTimestampHeader,
} from '@pushfleet/store';
import { randomDeviceTokens, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import { runFeedbackPoll } from '../../apps/scheduler/src/feedback-poll.ts';
import type { WebhookTarget } from '../../apps/scheduler/src/webhook-queue.ts';
import { startWebhookWorker } from '../../apps/scheduler/src/webhook-worker.ts';
import { type Harness, harness, metricValue } from './harness.ts';

const secret = 'webhook-secret-0123456789';
let server: StartedRedis;

before(async () => {
  server = await startRedis();
});

after(async () => {
  await server?.stop();
});

interface Received {
  at: number;
  status: number;
  signatureOk: boolean;
  items: FeedItem[];
}

/** A receiver that answers `statusFor(n)` to the n-th POST (0-based) and checks every signature. */
async function receiver(
  statusFor: (n: number) => number,
): Promise<{ url: string; posts: Received[]; server: Server }> {
  const posts: Received[] = [];
  const http = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const status = statusFor(posts.length);
      posts.push({
        at: Date.now(),
        status,
        signatureOk: verifyWebhookSignature(
          secret,
          req.headers[webhookTimestampHeader] as string | undefined,
          body,
          req.headers[webhookSignatureHeader] as string | undefined,
        ),
        items: (JSON.parse(body) as { app: string; items: FeedItem[] }).items,
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`, posts, server: http };
}

async function withWebhook(
  statusFor: (n: number) => number,
  target: Omit<WebhookTarget, 'url' | 'secret'>,
  body: (h: Harness, posts: Received[]) => Promise<void>,
): Promise<void> {
  const rx = await receiver(statusFor);
  const h = await harness(server.url, { webhooks: new Map([['b', { url: rx.url, secret, ...target }]]) });
  const worker = startWebhookWorker(h.ctx);
  try {
    await body(h, rx.posts);
  } finally {
    await worker.close();
    await h.close();
    rx.server.close();
  }
}

async function publishUnknown(h: Harness, count: number): Promise<string[]> {
  const tokens = randomDeviceTokens(count);
  await h.publish(
    tokens.map((token) => ({
      app: 'b',
      environment: 'sandbox',
      token,
      reason: 'Unregistered',
      timestamp: Date.now(),
    })),
  );
  await runFeedbackPoll(h.ctx); // feed entries ("unknown": not registered) + the webhook job
  return tokens;
}

test('batched, signed POSTs; failures retried with jittered exponential backoff; the cursor moves only on 2xx', async () => {
  const target = { batchSize: 10, maxAttempts: 5, backoffMs: 200, timeoutMs: 2000 };
  await withWebhook(
    (n) => (n < 2 ? 500 : 204),
    target,
    async (h, posts) => {
      const tokens = await publishUnknown(h, 25);
      await waitFor(
        'every item delivered',
        async () => (await h.ctx.feed.cursor('b')) === (await h.ctx.feed.lastId('b')),
        {
          timeoutMs: 15_000,
        },
      );
      assert.ok(
        posts.every((p) => p.signatureOk),
        'every POST carries a valid signature',
      );
      assert.deepEqual(
        posts.map((p) => [p.status, p.items.length]),
        [
          [500, 10],
          [500, 10],
          [204, 10],
          [204, 10],
          [204, 5],
        ],
      );
      // The failed batch is the one re-sent: same first ten items each time.
      assert.deepEqual(posts[0]!.items, posts[2]!.items);
      const delivered = posts.filter((p) => p.status === 204).flatMap((p) => p.items);
      assert.deepEqual(
        delivered.map((i) => i.token),
        tokens,
      );
      assert.ok(delivered.every((i) => i.action === 'unknown' && i.reason === 'Unregistered'));
      // Exponential backoff with equal jitter (core's backoffDelayMs): 100–200 ms before the 2nd
      // attempt, 200–400 ms before the 3rd.
      assert.ok(posts[1]!.at - posts[0]!.at >= 95, `first retry after ${posts[1]!.at - posts[0]!.at} ms`);
      assert.ok(posts[2]!.at - posts[1]!.at >= 195, `second retry after ${posts[2]!.at - posts[1]!.at} ms`);
      assert.deepEqual(await h.ctx.feed.deadLetters('b'), []);
      const m = (result: string) =>
        metricValue(h.registry, 'pushfleet_webhook_deliveries_total', { app: 'b', result });
      assert.deepEqual([await m('ok'), await m('error'), await m('dead')], [3, 2, 0]);
      assert.equal(await metricValue(h.registry, 'pushfleet_webhook_items_total', { app: 'b' }), 25);
    },
  );
});

test('after the last attempt: a dead letter with the batch and the error, and delivery moves on', async () => {
  let down = true;
  await withWebhook(
    () => (down ? 503 : 200),
    { batchSize: 100, maxAttempts: 3, backoffMs: 20, timeoutMs: 2000 },
    async (h, posts) => {
      const lost = await publishUnknown(h, 5);
      const [letter] = await waitFor('a dead letter', async () => {
        const letters = await h.ctx.feed.deadLetters('b');
        return letters.length > 0 ? letters : undefined;
      });
      assert.equal(posts.length, 3, 'three attempts');
      assert.deepEqual(
        letter!.items.map((i) => i.token),
        lost,
      );
      assert.equal(letter!.attempts, 3);
      assert.equal(letter!.from, null);
      assert.match(letter!.error, /HTTP 503/);
      assert.equal(await h.ctx.feed.cursor('b'), letter!.to, 'the cursor moved past the dead batch');
      assert.equal(
        await metricValue(h.registry, 'pushfleet_webhook_deliveries_total', { app: 'b', result: 'dead' }),
        1,
      );

      down = false;
      const next = await publishUnknown(h, 3);
      await waitFor('the next batch delivered', () => posts.some((p) => p.status === 200));
      const ok = posts.filter((p) => p.status === 200);
      assert.deepEqual(
        ok.flatMap((p) => p.items.map((i) => i.token)),
        next,
      );
    },
  );
});
