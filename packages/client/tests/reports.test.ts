import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SendResult } from '@pushfleet/core';
import { createRedis } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import { FakeTransport, type StartedRedis, startRedis, waitFor } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { startTestApi, type TestApi, token } from '../../../apps/api/tests/helpers.ts';
import { startInProcessWorker } from '../../../apps/worker/tests/in-process-worker.ts';
import { type PushfleetApiError, PushfleetClient, type ReportRow } from '../src/index.ts';

/** Reports through the SDK against the api on a real port, with the worker's real processors. */
let server: StartedRedis;
let t: TestApi;
let workerRedis: Redis;
let baseUrl: string;
let client: PushfleetClient;

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server });
  workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
  baseUrl = await t.api.listen({ host: '127.0.0.1', port: 0 });
  client = new PushfleetClient({ baseUrl, retryBaseMs: 1 });
});
after(async () => {
  await t.close();
  workerRedis.disconnect();
  await server.stop();
});

const n = (hex: string) => Number.parseInt(hex, 16);

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

test('campaignReport and notificationReport yield a typed row per token not delivered', async () => {
  // Every 10th token is dead (410); every 7th is throttled on every try and ends failed.
  const transport = new FakeTransport((tok): SendResult => {
    if (n(tok) % 10 === 0) return { kind: 'rejected', status: 410, reason: 'Unregistered', invalidAt: 1 };
    if (n(tok) % 7 === 0) return { kind: 'rejected', status: 429, reason: 'TooManyRequests' };
    return { kind: 'accepted', apnsId: undefined };
  });
  const tokens = Array.from({ length: 700 }, (_, i) => token(i + 1));
  const { campaignId } = await client.createCampaign('demo', {
    notification: { alert: 'report' },
    audience: { kind: 'tokens', tokens },
  });
  const sent = await client.sendNotification('demo', {
    tokens: [token(20), token(22), token(14)],
    notification: { alert: 'one' },
  });
  const worker = await startInProcessWorker({
    redis: workerRedis,
    prefix: t.prefix,
    apps: ['demo'],
    transport,
    worker: { maxAttempts: 2, retryBaseMs: 1, retryMaxMs: 5 },
  });
  try {
    await client.waitForCampaign('demo', campaignId, { intervalMs: 50, timeoutMs: 30_000 });
    await waitFor('notification finished', async () => {
      const s = await client.getNotification('demo', sent.id);
      return s.state === 'done';
    });
  } finally {
    await worker.close();
  }

  const rows: ReportRow[] = await collect(client.campaignReport('demo', campaignId));
  const dead = tokens.filter((x) => n(x) % 10 === 0);
  const throttled = tokens.filter((x) => n(x) % 7 === 0 && n(x) % 10 !== 0);
  assert.equal(rows.length, dead.length + throttled.length);
  const byOutcome = (o: string) =>
    rows
      .filter((r) => r.outcome === o)
      .map((r) => r.token)
      .sort();
  assert.deepEqual(byOutcome('rejected'), dead.sort());
  assert.deepEqual(byOutcome('failed'), throttled.sort());
  assert.ok(rows.filter((r) => r.outcome === 'rejected').every((r) => r.reason === 'Unregistered'));
  assert.ok(rows.every((r) => Number.isFinite(Date.parse(r.time))));

  const csv = await collect(client.campaignReport('demo', campaignId, { format: 'csv' }));
  assert.equal(csv[0], 'token,outcome,reason,time');
  assert.deepEqual(
    csv
      .slice(1)
      .map((line) => line.split(',')[0])
      .sort(),
    rows.map((r) => r.token).sort(),
  );

  const one = await collect(client.notificationReport('demo', sent.id));
  assert.deepEqual(one.map((r) => [r.token, r.outcome]).sort(), [
    [token(14), 'failed'],
    [token(20), 'rejected'],
  ]);

  await assert.rejects(
    collect(client.campaignReport('demo', 'no-such-campaign')),
    (err: PushfleetApiError) => {
      assert.equal(err.status, 404);
      assert.equal(err.code, 'PF_ERR_NOT_FOUND');
      return true;
    },
  );
});

test('the report streams: the first row arrives long before the body ends, and a break stops the download', async () => {
  // 20,000 rejected tokens written straight into the ledger (what 400 batches of a fleet leave).
  const ledger = new Ledger(workerRedis, t.prefix);
  const id = 'streamed-report';
  const tx = await t.queues.transaction('demo');
  ledger.records.stageNotification(tx.tx, {
    app: 'demo',
    id,
    environment: 'sandbox',
    accepted: 40_000,
    now: Date.now(),
    delayMs: 0,
  });
  await tx.exec();
  await Promise.all(
    Array.from({ length: 400 }, (_, b) =>
      ledger.batches.record(
        { app: 'demo', environment: 'sandbox', notificationId: id, batchNo: b, attempt: 0 },
        {
          after: '',
          outcomes: {
            delivered: 50,
            ended: [
              {
                outcome: 'rejected',
                reason: 'BadDeviceToken',
                tokens: Array.from({ length: 50 }, (_, i) => token(1_000_000 + b * 50 + i)),
              },
            ],
            invalidated: [],
          },
          state: 'done',
          now: Date.now(),
        },
      ),
    ),
  );

  // A fetch that counts the body bytes the SDK has pulled from the network so far.
  let pulled = 0;
  const counting: typeof fetch = async (url, init) => {
    const response = await fetch(url, init);
    const counted = response.body!.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, headers: response.headers });
  };
  const streaming = new PushfleetClient({ baseUrl, fetch: counting });
  let first = -1;
  let rows = 0;
  for await (const row of streaming.notificationReport('demo', id)) {
    if (rows++ === 0) first = pulled;
    assert.equal(row.reason, 'BadDeviceToken');
  }
  assert.equal(rows, 20_000);
  // ~110 bytes a line: the whole body is ~2 MB; the first row came after a few chunks of it.
  assert.ok(first > 0 && first < pulled / 10, `first row after ${first} of ${pulled} bytes`);

  pulled = 0;
  let taken = 0;
  for await (const _ of streaming.notificationReport('demo', id, { format: 'csv' })) {
    if (++taken === 10) break;
  }
  assert.equal(taken, 10);
  const atBreak = pulled;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(pulled < 1_000_000, `a break cancels the body (read ${pulled} bytes)`);
  assert.equal(pulled, atBreak, 'nothing is read after the break');
});
