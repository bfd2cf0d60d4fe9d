import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { randomDeviceTokens, spawnRedisServer, startStack } from '@pushfleet/testkit';

export interface LatencyResult {
  rate: number;
  seconds: number;
  sent: number;
  delivered: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function post(agent: Agent, url: URL, body: string): Promise<number> {
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
 * minus the moment the API answered 202, per notification.
 */
export async function latencyScenario(
  rate: number,
  seconds: number,
  log: (line: string) => void,
): Promise<LatencyResult> {
  const redis = await spawnRedisServer();
  const stack = await startStack({
    redisUrl: redis.url,
    prefix: `bench-${randomUUID().slice(0, 8)}`,
    apps: ['api', 'worker'],
    compiled: true,
    ...(process.env.PF_BENCH_WORKER_CONCURRENCY && {
      config: { worker: { concurrency: Number(process.env.PF_BENCH_WORKER_CONCURRENCY) } },
    }),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  try {
    const url = new URL(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`);
    const total = rate * seconds;
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
      for (const l of chunk) if (l !== undefined) latencies.push(Math.max(0, l));
    }
    latencies.sort((a, b) => a - b);
    return {
      rate,
      seconds,
      sent: total,
      delivered: latencies.length,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    };
  } finally {
    agent.destroy();
    await stack.stop();
    await redis.stop();
  }
}
