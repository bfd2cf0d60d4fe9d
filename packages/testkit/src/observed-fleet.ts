import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type AppProcess, spawnApp } from './app-process.ts';
import { freePort } from './free-port.ts';
import { randomDeviceTokens } from './keys.ts';
import { type StartedPrometheus, startPrometheus } from './prometheus.ts';
import { type StartedRedis, startRedis } from './redis.ts';
import { type Stack, startStack } from './stack.ts';
import { stackApi } from './stack-api.ts';
import { waitFor } from './wait-for.ts';

/**
 * A fleet watched by a real Prometheus, with the incidents that give every dashboard panel and
 * alert something to show: APNs throttling and outages (retries), dead tokens (rejections →
 * feedback), a GOAWAY (reconnect), an app whose key APNs refuses (paused), an app on a push
 * certificate 3 days from expiry, producer mistakes (PF_ERR_ codes), an api replica partitioned
 * from Redis (5xx) and a worker that crashed (target down). The caller runs the main traffic (a
 * campaign) between `injectFaults` and `settle`. Used by tests/ops/prometheus-live and
 * `npm run demo -- --observe`.
 */
export interface ObservedFleet {
  stack: Stack;
  prom: StartedPrometheus;
  /** Unix seconds when Prometheus started scraping. */
  startedAt: number;
  /** Whether the expiring-certificate app is there (it needs the `openssl` command). */
  certificateApp: boolean;
  /** Simulator faults, and the extra worker crashes: call before the campaign. */
  injectFaults(): Promise<void>;
  /** A few seconds of producer-side incidents beside the campaign (see above). */
  incidents(): Promise<void>;
  /** Waits until the scenario's signals are scraped, then two more scrapes. */
  settle(): Promise<void>;
  /** Stops every worker and enqueues `jobs` single-token notifications nobody takes. */
  stopWorkers(jobs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ObservedFleetOptions {
  /** Alerting rule files (YAML text) for Prometheus to evaluate. */
  rules?: string[];
  logLevel?: string;
}

/** A self-signed push certificate whose notAfter is `days` ahead, or null without `openssl`. */
function writeCertificate(dir: string, days: number): { certFile: string; keyFile: string } | null {
  const certFile = join(dir, 'push-cert.pem');
  const keyFile = join(dir, 'push-key.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(days),
      '-subj',
      '/CN=Apple Push Services: com.example.pushfleet.expiring',
    ],
    { stdio: 'ignore' },
  );
  return made.status === 0 ? { certFile, keyFile } : null;
}

/** A TCP proxy to Redis that can be cut: open connections are dropped and new ones refused. */
async function redisPartition(redisUrl: string) {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(redisUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  const cut = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { url: url.toString(), cut };
}

async function waitScraped(prom: StartedPrometheus, expr: string, what: string): Promise<void> {
  await waitFor(what, async () => (await prom.query(expr)).length > 0, {
    timeoutMs: 15_000,
    intervalMs: 250,
  });
}

export async function startObservedFleet(options: ObservedFleetOptions = {}): Promise<ObservedFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-observed-'));
  const cleanup: Array<() => Promise<unknown>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const redis: StartedRedis = await startRedis();
    cleanup.push(() => redis.stop());
    const certificate = writeCertificate(dir, 3);
    const stack = await startStack({
      redisUrl: redis.url,
      prefix: `observed-${randomUUID().slice(0, 8)}`,
      extraApps: ['locked'],
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      config: {
        api: { auth: { required: false } },
        // Quick retries, a pause that outlasts the scenario, a feedback poll every second.
        worker: { retryBaseMs: 50, retryMaxMs: 400, maxAttempts: 10, credentialsPauseMs: 300_000 },
        scheduler: { feedbackPollSeconds: 1 },
        apps: {
          // A key id the simulator never registered: APNs answers 403 InvalidProviderToken.
          locked: { credentials: { keyId: 'LOCKED0KEY' } },
          // The scheduler exports its certificate's date; it sends nothing.
          ...(certificate && {
            expiring: {
              bundleId: 'com.example.pushfleet.expiring',
              environments: ['sandbox'],
              credentials: { type: 'certificate', ...certificate },
            },
          }),
        },
      },
    });
    cleanup.push(() => stack.stop());
    const extraWorker = await stack.spawn('worker');
    // An api replica that reaches Redis through a proxy: cut later, it answers 503 while the
    // rest of the fleet carries on.
    const partition = await redisPartition(redis.url);
    cleanup.push(async () => partition.cut());
    const replicaPort = await freePort();
    const replica: AppProcess = spawnApp('api', {
      PUSHFLEET_CONFIG: stack.configFile,
      PUSHFLEET_API__PORT: String(replicaPort),
      PUSHFLEET_REDIS__URL: partition.url,
    });
    cleanup.push(() => replica.stop());
    await waitFor('the api replica behind the partition', async () => {
      if (replica.process.exitCode !== null) throw new Error(`exited:\n${replica.recentLogs()}`);
      return (await fetch(`http://127.0.0.1:${replicaPort}/healthz`)).ok;
    });

    const prom = await startPrometheus({
      targets: [
        { component: 'api', port: stack.opsPorts.api },
        { component: 'api', port: replicaPort },
        { component: 'worker', port: stack.opsPorts.worker },
        { component: 'worker', port: extraWorker.opsPort },
        { component: 'scheduler', port: stack.opsPorts.scheduler },
      ],
      rules: options.rules ?? [],
    });
    cleanup.push(() => prom.stop());
    const startedAt = Date.now() / 1000;
    await waitScraped(prom, 'up{component="worker"} == 1', 'the first worker scrape');

    return {
      stack,
      prom,
      startedAt,
      certificateApp: certificate !== null,
      async injectFaults() {
        // Crashed before the traffic, so it holds no job whose lock the others must wait out.
        extraWorker.process.kill('SIGKILL');
        const sim = stack.sim.control;
        await sim.addFault({ status: 503, reason: 'ServiceUnavailable', rate: 0.15, count: 400 });
        await sim.addFault({ status: 429, reason: 'TooManyRequests', rate: 0.05, count: 150 });
        await sim.addFault({ status: 400, reason: 'BadDeviceToken', rate: 0.03 });
        await sim.addFault({ goawayAfter: 500 });
      },
      async incidents() {
        await stackApi(stack, 'locked').send(randomDeviceTokens(20));
        partition.cut();
        // Spread over a few seconds: a counter's first sample is rate()'s baseline, so events
        // all between two scrapes would not show as a rate.
        const api = stackApi(stack);
        for (let i = 0; i < 12; i++) {
          await api.send(randomDeviceTokens(2));
          await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ tokens: ['not-a-token'], notification: { alert: 'x' } }),
          });
          await fetch(`http://127.0.0.1:${replicaPort}/v1/apps/${stack.appId}/campaigns/x`);
          await delay(400);
        }
      },
      async settle() {
        await waitScraped(prom, 'pushfleet_app_paused{app="locked"} > 0', 'the paused app in a scrape');
        await waitScraped(
          prom,
          'pushfleet_notifications_total{outcome="rejected", reason="BadDeviceToken"}',
          'rejections in a scrape',
        );
        await delay(2100);
      },
      async stopWorkers(jobs) {
        await stack.processes.get('worker')!.stop();
        const api = stackApi(stack);
        for (let i = 0; i < jobs; i += 25)
          await Promise.all(
            Array.from({ length: Math.min(25, jobs - i) }, () => api.send(randomDeviceTokens(1))),
          );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
