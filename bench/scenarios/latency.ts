import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { randomDeviceTokens, repoRoot, spawnRedisServer, startStack } from '@pushfleet/testkit';

export interface LatencyPercentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LatencyResult extends LatencyPercentiles {
  rate: number;
  /** The round trip every APNs answer was held for (0: loopback). */
  rttMs: number;
  /** `worker.concurrency` (PF_BENCH_WORKER_CONCURRENCY), or the config default. */
  workerConcurrency: number | 'default';
  /** Whether the worker ran single sends on its express thread (PF_BENCH_EXPRESS_THREAD=false: not). */
  expressThread: boolean;
  seconds: number;
  sent: number;
  delivered: number;
  /** The first `warmupSeconds` at the same rate, reported apart: a fresh fleet's JIT warm-up. */
  warmupSeconds: number;
  warmup: LatencyPercentiles;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function percentiles(latencies: number[]): LatencyPercentiles {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 202 ? resolve(Date.now()) : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Single notifications at a fixed rate through the API; latency = APNs (simulator) receipt time
 * minus the moment the API answered 202, per notification. The first `warmupSeconds` run at the
 * same rate and are reported apart, as steady-state benchmarks do: a process's first seconds are
 * spent compiling its hot paths.
 */
export async function latencyScenario(
  rate: number,
  seconds: number,
  log: (line: string) => void,
  warmupSeconds = 5,
  /** Every APNs answer this late, with APNs' one-stream start (`--token-initial-streams 1`). */
  rttMs?: number,
): Promise<LatencyResult> {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
  const redis = await spawnRedisServer();
  const stack = await startStack({
    redisUrl: redis.url,
    prefix: `bench-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'worker'],
    compiled: true,
    ...(rttMs !== undefined && { simulatorArgs: ['--token-initial-streams', '1'] }),
    config: {
      worker: {
        ...(process.env.PF_BENCH_WORKER_CONCURRENCY && {
          concurrency: Number(process.env.PF_BENCH_WORKER_CONCURRENCY),
        }),
        // `false`: single sends on the main event loop, as before the express thread (to compare).
        ...(process.env.PF_BENCH_EXPRESS_THREAD === 'false' && { expressThread: false }),
      },
    },
  });
  if (rttMs) await stack.sim.control.addFault({ latencyMs: rttMs });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const url = new URL(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`);
    const warmupCount = rate * warmupSeconds;
    const total = warmupCount + rate * seconds;
    const tokens = randomDeviceTokens(total);
    const acceptedAt = new Array<number>(total);
    const sends: Promise<void>[] = [];
    const start = Date.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const body = JSON.stringify({
        tokens: [tokens[i]],
        notification: { alert: `latency ${i}`, apnsId: randomUUID() },
      });
      sends.push(
        post(agent, url, body).then((t) => {
          acceptedAt[i] = t;
        }),
      );
    }
    await Promise.all(sends);
    log(`latency: sent ${total} in ${((Date.now() - start) / 1000).toFixed(1)} s; collecting receipts`);
    const latencies: number[] = [];
    const warmup: number[] = [];
    for (let i = 0; i < total; i += 50) {
      const chunk = await Promise.all(
        tokens.slice(i, i + 50).map(async (token, j) => {
          for (let tries = 0; tries < 100; tries++) {
            const [delivery] = await stack.sim.control.deliveries(token);
            if (delivery) return delivery.receivedAt - acceptedAt[i + j]!;
            await new Promise((r) => setTimeout(r, 50));
          }
          return undefined;
        }),
      );
      chunk.forEach((l, j) => {
        if (l !== undefined) (i + j < warmupCount ? warmup : latencies).push(Math.max(0, l));
      });
    }
    return {
      rate,
      rttMs: rttMs ?? 0,
      workerConcurrency: Number(process.env.PF_BENCH_WORKER_CONCURRENCY) || 'default',
      expressThread: process.env.PF_BENCH_EXPRESS_THREAD !== 'false',
      seconds,
      sent: total - warmupCount,
      delivered: latencies.length,
      ...percentiles(latencies),
      warmupSeconds,
      warmup: percentiles(warmup),
    };
  } finally {
    agent.destroy();
    await stack.stop();
    await redis.stop();
  }
}
