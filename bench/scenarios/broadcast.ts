// Broadcast updates across many channels, through the API to APNs receipt (#16): a broadcast is
// one request, so what matters is the update rate over many channels and how long an update takes
// from the API's 202 to the simulator's receipt.
//
//   node --import tsx bench/scenarios/broadcast.ts [--channels 1000] [--updates 10] [--concurrency 64]
//        [--rate 500] [--seconds 10] [--json]
//
// A real fleet from the dist/ bundles (api and one worker process, the validating simulator, a
// spawned Redis). Phase 1 creates the channels through the API (APNs' channel-management API).
// Phase 2, throughput: `updates` updates per channel posted as fast as `concurrency` requests in
// flight allow (round-robin over the channels); updates/s = updates ÷ (first 202 → last receipt).
// Phase 3, latency: updates at a fixed `rate` for `seconds` over the same channels, comparable with
// the single-notification latency figure (500/s). Latency = simulator receipt − the API's 202,
// matched by apns-request-id. Writes bench/results/broadcast-latest.json.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { randomDeviceTokens, repoRoot, type Stack, spawnRedisServer, startStack } from '@pushfleet/testkit';
import { percentiles } from './latency.ts';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '1000' },
    updates: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const channelCount = Number(values.channels);
const updatesPerChannel = Number(values.updates);
const concurrency = Number(values.concurrency);

function call(
  agent: Agent,
  url: string,
  body: unknown,
): Promise<{ status: number; at: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, at: Date.now(), text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Runs `task(i)` for i < n with `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

async function receipts(stack: Stack, expected: number, timeoutMs: number): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  while ((await stack.sim.control.stats()).broadcasts.accepted < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const all = await stack.sim.control.appBroadcasts(stack.bundleId);
  return new Map(all.map((b) => [b.requestId, b.receivedAt]));
}

execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
const redis = await spawnRedisServer();
const stack = await startStack({
  redisUrl: redis.url,
  prefix: `bench-${randomUUID().slice(0, 8)}`,
  apps: ['api', 'worker'],
  compiled: true,
  // Measure the fleet, not the api's per-client rate limit.
  config: { api: { rateLimit: { requestsPerSecond: 1_000_000, burst: 1_000_000 } } },
});
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const base = `${stack.apiUrl}/v1/apps/${stack.appId}`;
try {
  const createStart = Date.now();
  const names = Array.from({ length: channelCount }, (_, i) => `match-${i}`);
  await pool(channelCount, 16, async (i) => {
    const made = await call(agent, `${base}/channels`, { name: names[i], messageStoragePolicy: 0 });
    if (made.status !== 201) throw new Error(`channel ${i}: HTTP ${made.status} ${made.text}`);
  });
  const createSeconds = (Date.now() - createStart) / 1000;
  log(`created ${channelCount} channels in ${createSeconds.toFixed(1)} s`);

  // Phase 2: throughput.
  const total = channelCount * updatesPerChannel;
  const ids = Array.from({ length: total }, () => randomUUID());
  const acceptedAt = new Array<number>(total);
  const start = Date.now();
  await pool(total, concurrency, async (i) => {
    const res = await call(agent, `${base}/channels/${names[i % channelCount]}/broadcasts`, {
      notification: {
        event: 'update',
        contentState: { seq: Math.floor(i / channelCount) },
        requestId: ids[i],
      },
    });
    if (res.status !== 202) throw new Error(`broadcast ${i}: HTTP ${res.status} ${res.text}`);
    acceptedAt[i] = res.at;
  });
  const acceptedSeconds = (Date.now() - start) / 1000;
  const got = await receipts(stack, total, 300_000);
  const latencies = ids.flatMap((id, i) => {
    const at = got.get(id);
    return at === undefined ? [] : [Math.max(0, at - acceptedAt[i]!)];
  });
  const lastReceipt = Math.max(...ids.map((id) => got.get(id) ?? 0));
  const seconds = (lastReceipt - start) / 1000;
  const throughput = {
    channels: channelCount,
    updatesPerChannel,
    updates: total,
    received: latencies.length,
    concurrency,
    acceptedPerSecond: Math.round(total / acceptedSeconds),
    seconds: Number(seconds.toFixed(2)),
    updatesPerSecond: Math.round(latencies.length / seconds),
    latencyMs: percentiles(latencies),
  };
  log(
    `throughput: ${throughput.received}/${total} updates received in ${throughput.seconds} s = ${throughput.updatesPerSecond}/s ` +
      `(api accepted ${throughput.acceptedPerSecond}/s); latency under that load p50 ${throughput.latencyMs.p50} ms, ` +
      `p99 ${throughput.latencyMs.p99} ms`,
  );

  // The same load as single notifications (one token each, same concurrency), in the same fleet
  // and the same minute: what a broadcast update costs beside a device push, whatever else the
  // machine is doing.
  const tokens = randomDeviceTokens(total);
  const singleAt = new Array<number>(total);
  const singleStart = Date.now();
  await pool(total, concurrency, async (i) => {
    const res = await call(agent, `${base}/notifications`, {
      tokens: [tokens[i]],
      notification: { alert: `single ${i}` },
    });
    if (res.status !== 202) throw new Error(`notification ${i}: HTTP ${res.status} ${res.text}`);
    singleAt[i] = res.at;
  });
  const singleAccepted = (Date.now() - singleStart) / 1000;
  for (let d = Date.now() + 300_000; Date.now() < d; ) {
    if ((await stack.sim.control.deliveriesSummary()).deliveries >= total) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Receipt times of every 10th (a control-API read per token).
  const sampled: number[] = [];
  let lastSingle = 0;
  for (let i = 0; i < total; i += 10) {
    const [delivery] = await stack.sim.control.deliveries(tokens[i]!);
    if (delivery) {
      sampled.push(Math.max(0, delivery.receivedAt - singleAt[i]!));
      lastSingle = Math.max(lastSingle, delivery.receivedAt);
    }
  }
  const delivered = (await stack.sim.control.deliveriesSummary()).deliveries;
  const singles = {
    notifications: total,
    delivered,
    acceptedPerSecond: Math.round(total / singleAccepted),
    // The last sampled receipt bounds the end (the last of all is at most a few ms later).
    perSecond: Math.round(delivered / ((lastSingle - singleStart) / 1000)),
    latencyMsSampled: percentiles(sampled),
  };
  log(
    `single notifications, same load: ${delivered}/${total} delivered at ${singles.perSecond}/s ` +
      `(api accepted ${singles.acceptedPerSecond}/s); latency p50 ${singles.latencyMsSampled.p50} ms, ` +
      `p99 ${singles.latencyMsSampled.p99} ms (every 10th)`,
  );

  // Phase 3: latency at a fixed rate.
  const rate = Number(values.rate);
  const paced = rate * Number(values.seconds);
  const pacedIds = Array.from({ length: paced }, () => randomUUID());
  const pacedAt = new Array<number>(paced);
  const sends: Promise<void>[] = [];
  const pacedStart = Date.now();
  for (let i = 0; i < paced; i++) {
    const wait = pacedStart + (i * 1000) / rate - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sends.push(
      call(agent, `${base}/channels/${names[i % channelCount]}/broadcasts`, {
        notification: { event: 'update', contentState: { paced: i }, requestId: pacedIds[i] },
      }).then((res) => {
        if (res.status !== 202) throw new Error(`paced ${i}: HTTP ${res.status}`);
        pacedAt[i] = res.at;
      }),
    );
  }
  await Promise.all(sends);
  const pacedGot = await receipts(stack, total + paced, 120_000);
  const pacedLatencies = pacedIds.flatMap((id, i) => {
    const at = pacedGot.get(id);
    return at === undefined ? [] : [Math.max(0, at - pacedAt[i]!)];
  });
  const latency = {
    rate,
    sent: paced,
    received: pacedLatencies.length,
    latencyMs: percentiles(pacedLatencies),
  };
  log(
    `latency at ${rate}/s: ${latency.received}/${paced} received; p50 ${latency.latencyMs.p50} ms, ` +
      `p90 ${latency.latencyMs.p90} ms, p99 ${latency.latencyMs.p99} ms, max ${latency.latencyMs.max} ms`,
  );

  const report = {
    date: new Date().toISOString(),
    // Other work on the machine shows here: figures taken under load are not comparable.
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      loadAverage1m: loadavg()[0],
    },
    createChannels: { channels: channelCount, seconds: Number(createSeconds.toFixed(2)) },
    throughput,
    singleNotifications: singles,
    latency,
  };
  mkdirSync(`${repoRoot}/bench/results`, { recursive: true });
  writeFileSync(`${repoRoot}/bench/results/broadcast-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  agent.destroy();
  await stack.stop();
  await redis.stop();
}
