// fairness: app A drains a large backlog while app B sends single notifications through the API
// at a steady rate, on the same worker. Reports B's latency (API 202 → simulator receipt) while A
// drains, B's latency with A idle, and A's throughput with and without B, in the same run.
// The simulator validates (it records receipt times) and starts each connection at one stream,
// as APNs does.
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { Agent } from 'node:http';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { Ledger } from '@pushfleet/store';
import {
  type RunningSimulatorProcess,
  randomDeviceTokens,
  repoRoot,
  type Stack,
  spawnRedisServer,
  startSimulatorProcess,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';
import { type LatencyPercentiles, percentiles, post } from './latency.ts';

export interface FairnessResult {
  backlogTokens: number;
  singlesPerSecond: number;
  /** A's simulator's nice value (19: APNs' CPU is not this machine's). */
  sinkNice: number;
  /** A's backlog drained alone: tokens per second, from the start of its enqueue. */
  aloneTokensPerSecond: number;
  /** The same backlog (fresh tokens) drained while B sends: tokens per second. */
  withSinglesTokensPerSecond: number;
  /** withSingles ÷ alone: 1 means B costs A nothing. */
  throughputRatio: number;
  /** B's singles sent while A drained. */
  singlesDuringBacklog: LatencyPercentiles & { sent: number; delivered: number };
  /**
   * Where B's time went while A drained, from the worker's own histograms (p99 as the upper
   * bound of the bucket holding it, seconds): waiting in B's queue for a worker to take the job,
   * and the APNs request itself (written → answered).
   */
  singlesBreakdownP99: {
    queueWaitSeconds: number;
    apnsRequestSeconds: number;
    /** The worker's event loop delay over A's drain (prom-client resets it at each scrape). */
    workerEventLoopP99Seconds: number;
    workerEventLoopMaxSeconds: number;
  };
  /** B's first 3 s, before A's backlog arrives (attach, connection, JIT). */
  singlesWarmup: LatencyPercentiles & { sent: number; delivered: number };
  /** B's singles with A idle, for comparison. */
  singlesAlone: LatencyPercentiles & { sent: number; delivered: number };
}

/**
 * Lowers the CPU priority of every thread of a process: on Linux a nice value belongs to one
 * thread, and V8's GC helpers and libuv's pool start before we could renice the main one.
 */
function nice(pid: number | undefined, value: number): void {
  if (pid === undefined) return;
  let threads = [pid];
  try {
    threads = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    // Not Linux: the process's own priority is what there is.
  }
  for (const tid of threads) setPriority(tid, value);
}

/**
 * Starts A's producer (bench/scenarios/fairness-producer.ts) at `nice`; once it has made its
 * tokens, `go()` has it queue them and resolves to the notification ids.
 */
async function backlogProducer(
  stack: Stack,
  redisUrl: string,
  prefix: string,
  count: number,
  sinkNice: number,
) {
  const args = {
    redisUrl,
    prefix,
    app: stack.appId,
    bundleId: stack.bundleId,
    environment: stack.sim.environment,
    count,
  };
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/scenarios/fairness-producer.ts', JSON.stringify(args)],
    { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  // Niced once its threads are up (all of them; see nice()).
  nice(child.pid, sinkNice);
  if (first.value !== 'ready') throw new Error(`A's producer did not start: ${String(first.value)}`);
  return {
    async go(): Promise<string[]> {
      child.stdin!.end('go\n');
      const ids = await lines.next();
      if (ids.done) throw new Error("A's producer exited without its ids");
      return JSON.parse(ids.value) as string[];
    },
  };
}

/** Waits for the backlog's records; returns tokens per second from `t0` to the last finish. */
async function drained(ledger: Ledger, app: string, ids: string[], t0: number): Promise<number> {
  // Reads only the records not yet done: polling all of them would put the bench's own load on
  // Redis and on the cores the fleet runs on.
  const done = new Map<string, { delivered: number; finishedAt: number }>();
  await waitFor(
    'backlog drained',
    async () => {
      const open = ids.filter((id) => !done.has(id));
      const records = await Promise.all(open.map((id) => ledger.records.notification(app, id)));
      records.forEach((r, i) => {
        if (r?.state === 'done')
          done.set(open[i]!, { delivered: r.delivered, finishedAt: Date.parse(r.finishedAt!) });
      });
      return done.size === ids.length || undefined;
    },
    { timeoutMs: 900_000, intervalMs: 200 },
  );
  const all = [...done.values()];
  const delivered = all.reduce((sum, r) => sum + r.delivered, 0);
  const finishedAt = Math.max(...all.map((r) => r.finishedAt));
  return delivered / ((finishedAt - t0) / 1000);
}

interface Single {
  token: string;
  sentAt: number;
  acceptedAt: Promise<number>;
}

/** Sends singles for app B at `rate` until `until()` says stop; returns tokens with their 202 time. */
async function sendSingles(stack: Stack, rate: number, until: () => boolean) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL(`${stack.apiUrl}/v1/apps/b/notifications`);
  const sent: Single[] = [];
  const start = Date.now();
  for (let i = 0; !until(); i++) {
    const wait = start + (i * 1000) / rate - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const [token] = randomDeviceTokens(1) as [string];
    const body = JSON.stringify({
      tokens: [token],
      notification: { alert: `single ${i}`, apnsId: randomUUID() },
    });
    sent.push({ token, sentAt: Date.now(), acceptedAt: post(agent, url, body) });
  }
  await Promise.all(sent.map((s) => s.acceptedAt));
  agent.destroy();
  return sent;
}

async function latencies(sim: RunningSimulatorProcess, sent: Single[]) {
  const out: number[] = [];
  for (let i = 0; i < sent.length; i += 50) {
    const chunk = await Promise.all(
      sent.slice(i, i + 50).map(async ({ token, acceptedAt }) => {
        for (let tries = 0; tries < 200; tries++) {
          const [delivery] = await sim.control.deliveries(token);
          if (delivery) return Math.max(0, delivery.receivedAt - (await acceptedAt));
          await new Promise((r) => setTimeout(r, 50));
        }
        return undefined;
      }),
    );
    for (const l of chunk) if (l !== undefined) out.push(l);
  }
  return { ...percentiles(out), sent: sent.length, delivered: out.length };
}

/** A histogram's cumulative counts per bucket bound for one app, from a /metrics text. */
function bucketCounts(text: string, name: string, app: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`) || !line.includes(`app="${app}"`)) continue;
    const le = line.match(/le="([^"]+)"/)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    // Several environments of one app: add their counts per bound.
    counts.set(bound, (counts.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/**
 * A quantile of what a histogram observed between two scrapes: the upper bound of the bucket
 * that holds it (seconds).
 */
export function histogramQuantile(
  before: string,
  after: string,
  name: string,
  app: string,
  q: number,
): number {
  const start = bucketCounts(before, name, app);
  const sorted = [...bucketCounts(after, name, app).entries()]
    .map(([bound, count]) => [bound, count - (start.get(bound) ?? 0)] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  return sorted.find(([, count]) => count >= q * total)?.[0] ?? Number.NaN;
}

/** Extra node flags for the worker (e.g. `--max-semi-space-size=16`), as the e2e scenario takes them. */
const workerNodeArgs = process.env.PF_BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

export async function fairnessScenario(
  count: number,
  rate: number,
  sinkNice: number,
  log: (line: string) => void,
): Promise<FairnessResult> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
  const redisServer = await spawnRedisServer();
  const redis = new Redis(redisServer.url);
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  // B's APNs is a simulator of its own: one simulator process busy with A's stream would make
  // B's requests queue in the sink, which is not what APNs does and not what this measures.
  const simB = await startSimulatorProcess({ args: ['--token-initial-streams', '1'] });
  const stack = await startStack({
    redisUrl: redisServer.url,
    prefix,
    apps: ['api'],
    extraApps: ['b'],
    compiled: true,
    simulatorArgs: ['--token-initial-streams', '1'],
    config: {
      api: { auth: { required: false } },
      apps: { b: { endpoint: { host: '127.0.0.1', port: simB.port, caFile: simB.caFile } } },
      ...(process.env.PF_BENCH_WORKER_CONCURRENCY && {
        worker: { concurrency: Number(process.env.PF_BENCH_WORKER_CONCURRENCY) },
      }),
    },
  });
  const ledger = new Ledger(redis, prefix);
  // A's simulator stands in for APNs, which runs on Apple's machines: draining A it takes about a
  // core of this 2-core machine, and at a low CPU priority it takes only what the fleet leaves
  // instead of taking turns with the worker whose fairness is measured (--sink-nice 0 to compare).
  // B's simulator answers 50 requests a second and stays at normal priority: its answer is part
  // of B's latency.
  nice(stack.sim.process.pid, sinkNice);
  await simB.control.addKey({
    keyId: stack.key.keyId,
    teamId: stack.key.teamId,
    publicKeyPem: stack.key.publicKeyPem,
  });
  try {
    // 1. A's backlog alone, queued once the worker is up.
    let worker = await stack.spawn('worker', { nodeArgs: workerNodeArgs });
    let producer = await backlogProducer(stack, redisServer.url, prefix, count, sinkNice);
    let t0 = Date.now();
    let ids = await producer.go();
    const alone = await drained(ledger, stack.appId, ids, t0);
    log(`fairness: A alone drained ${count} tokens at ${Math.round(alone)}/s`);
    await worker.stop();
    // The validating simulator keeps every delivery: start phase 2 with an empty one, as phase 1 did.
    await stack.sim.control.reset();
    await stack.sim.control.addKey({
      keyId: stack.key.keyId,
      teamId: stack.key.teamId,
      publicKeyPem: stack.key.publicKeyPem,
    });

    // 2. The same again while B sends singles at `rate`. B starts 3 s before A's backlog arrives:
    // an app that sends steadily is attached and has its connection open (what an idle app pays
    // on its first notification is the hot-add figure, not fairness). Those 3 s are reported apart.
    worker = await stack.spawn('worker', { nodeArgs: workerNodeArgs });
    const metricsOf = async () => (await fetch(`http://127.0.0.1:${worker.opsPort}/metrics`)).text();
    let backlogDone = false;
    const singles = sendSingles(stack, rate, () => backlogDone);
    producer = await backlogProducer(stack, redisServer.url, prefix, count, sinkNice);
    await new Promise((r) => setTimeout(r, 3000));
    const before = await metricsOf();
    t0 = Date.now();
    ids = await producer.go();
    const withSingles = await drained(ledger, stack.appId, ids, t0);
    backlogDone = true;
    const sent = await singles;
    const after = await metricsOf();
    const during = await latencies(
      simB,
      sent.filter((s) => s.sentAt >= t0),
    );
    const warmup = await latencies(
      simB,
      sent.filter((s) => s.sentAt < t0),
    );
    const plain = (name: string) =>
      Number(
        after
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1] ?? Number.NaN,
      );
    const breakdown = {
      queueWaitSeconds: histogramQuantile(before, after, 'pushfleet_queue_wait_seconds', 'b', 0.99),
      apnsRequestSeconds: histogramQuantile(
        before,
        after,
        'pushfleet_apns_request_duration_seconds',
        'b',
        0.99,
      ),
      workerEventLoopP99Seconds: plain('pushfleet_process_nodejs_eventloop_lag_p99_seconds'),
      workerEventLoopMaxSeconds: plain('pushfleet_process_nodejs_eventloop_lag_max_seconds'),
    };
    log(
      `fairness: A with B drained at ${Math.round(withSingles)}/s; B during A: p50 ${during.p50} ms, p99 ${during.p99} ms (${during.delivered}/${during.sent}); p99 ≤ ${breakdown.queueWaitSeconds} s in the queue, ≤ ${breakdown.apnsRequestSeconds} s at APNs; worker event loop delay p99 ${breakdown.workerEventLoopP99Seconds} s, max ${breakdown.workerEventLoopMaxSeconds} s; B's first 3 s: p99 ${warmup.p99} ms`,
    );

    // 3. B alone on the same (warm) worker, for comparison.
    const end = Date.now() + 10_000;
    const quiet = await latencies(simB, await sendSingles(stack, rate, () => Date.now() >= end));
    log(`fairness: B alone: p50 ${quiet.p50} ms, p99 ${quiet.p99} ms (${quiet.delivered}/${quiet.sent})`);
    await worker.stop();
    return {
      backlogTokens: count,
      singlesPerSecond: rate,
      sinkNice,
      aloneTokensPerSecond: Math.round(alone),
      withSinglesTokensPerSecond: Math.round(withSingles),
      throughputRatio: Number((withSingles / alone).toFixed(3)),
      singlesDuringBacklog: during,
      singlesBreakdownP99: breakdown,
      singlesWarmup: warmup,
      singlesAlone: quiet,
    };
  } finally {
    redis.disconnect();
    await stack.stop();
    await simB.stop();
    await redisServer.stop();
  }
}
