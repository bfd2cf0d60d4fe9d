/**
 * A fleet watched by a real Prometheus, and the traffic that gives every dashboard panel and
 * every alert something to show: deliveries, APNs throttling and outages (retries), dead tokens
 * (rejections → feedback), a GOAWAY (reconnect), an app whose key APNs refuses (paused), bad API
 * requests (PF_ERR_ codes), an api replica that lost Redis (5xx), a worker that crashed (target
 * down). `stopWorkers` then takes the last workers away while producers keep sending: the
 * backlog grows and no worker is up.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type AppProcess,
  freePort,
  randomDeviceTokens,
  type Stack,
  type StartedPrometheus,
  type StartedRedis,
  spawnApp,
  stackApi,
  startPrometheus,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import forge from 'node-forge';
import { parse as parseYaml, stringify } from 'yaml';
import { root } from './tools.ts';

export const rulesFile = 'deploy/prometheus/rules/pushfleet.rules.yml';
export const dashboardFile = 'deploy/grafana/dashboards/pushfleet.json';

interface RuleGroups {
  groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>;
}

/** The shipped rules with every `for:` cut to 1 s, so a 60-second scenario can see them fire. */
export function rulesWithShortFor(): { text: string; alerts: Array<{ alert: string; expr: string }> } {
  const rules = parseYaml(readFileSync(join(root, rulesFile), 'utf8')) as RuleGroups;
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = '1s';
  const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert)) as Array<{
    alert: string;
    expr: string;
  }>;
  return { text: stringify(rules), alerts };
}

export interface ObservedFleet {
  stack: Stack;
  prom: StartedPrometheus;
  /** Unix seconds when Prometheus started scraping. */
  startedAt: number;
  /** Runs the traffic; resolves once every notification is accounted for and scraped. */
  drive(): Promise<{ campaignId: string }>;
  /** Stops every worker and enqueues `jobs` single-token notifications nobody takes. */
  stopWorkers(jobs: number): Promise<void>;
  stop(): Promise<void>;
}

/** A self-signed push certificate (PEM pair) whose notAfter is `daysLeft` days from now. */
function writeCertificate(dir: string, daysLeft: number): { certFile: string; keyFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + daysLeft * 86_400_000);
  const subject = [{ name: 'commonName', value: 'Apple Push Services: com.example.pushfleet.expiring' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const certFile = join(dir, 'push-cert.pem');
  const keyFile = join(dir, 'push-key.pem');
  writeFileSync(certFile, forge.pki.certificateToPem(cert));
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

/** A TCP proxy to Redis that can be cut: open connections are dropped and new ones refused. */
async function redisPartition(
  redisUrl: string,
): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
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
  return { url: url.toString(), cut, close: async () => cut() };
}

async function waitScraped(prom: StartedPrometheus, expr: string, what: string): Promise<void> {
  await waitFor(what, async () => (await prom.query(expr)).length > 0, {
    timeoutMs: 15_000,
    intervalMs: 250,
  });
}

export async function startObservedFleet(): Promise<ObservedFleet> {
  const redis: StartedRedis = await startRedis();
  const certDir = mkdtempSync(join(tmpdir(), 'pushfleet-observed-'));
  const cleanup: Array<() => Promise<unknown>> = [
    async () => rmSync(certDir, { recursive: true, force: true }),
    () => redis.stop(),
  ];
  const stop = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    const stack = await startStack({
      redisUrl: redis.url,
      prefix: `ops-prom-${randomUUID().slice(0, 8)}`,
      extraApps: ['locked'],
      config: {
        api: { auth: { required: false } },
        // Quick retries, a pause that outlasts the scenario, a feedback poll every second.
        worker: { retryBaseMs: 50, retryMaxMs: 400, maxAttempts: 10, credentialsPauseMs: 300_000 },
        scheduler: { feedbackPollSeconds: 1 },
        apps: {
          // A key id the simulator never registered: APNs answers 403 InvalidProviderToken.
          locked: { credentials: { keyId: 'LOCKED0KEY' } },
          // An app on a push certificate that expires in 3 days (the scheduler exports its date);
          // it sends nothing here.
          expiring: {
            bundleId: 'com.example.pushfleet.expiring',
            environments: ['sandbox'],
            credentials: { type: 'certificate', ...writeCertificate(certDir, 3) },
          },
        },
      },
    });
    cleanup.push(() => stack.stop());
    const extraWorker = await stack.spawn('worker');
    // An api replica that reaches Redis through a proxy; cutting the proxy later partitions it
    // from Redis, and it answers 503 while the rest of the fleet carries on.
    const partition = await redisPartition(redis.url);
    cleanup.push(() => partition.close());
    const brokenPort = await freePort();
    const broken: AppProcess = spawnApp('api', {
      PUSHFLEET_CONFIG: stack.configFile,
      PUSHFLEET_API__PORT: String(brokenPort),
      PUSHFLEET_REDIS__URL: partition.url,
    });
    cleanup.push(() => broken.stop());
    await waitFor('the partitioned api replica', async () => {
      if (broken.process.exitCode !== null) throw new Error(`exited:\n${broken.recentLogs()}`);
      return (await fetch(`http://127.0.0.1:${brokenPort}/healthz`)).ok;
    });

    const prom = await startPrometheus({
      targets: [
        { component: 'api', port: stack.opsPorts.api },
        { component: 'api', port: brokenPort },
        { component: 'worker', port: stack.opsPorts.worker },
        { component: 'worker', port: extraWorker.opsPort },
        { component: 'scheduler', port: stack.opsPorts.scheduler },
      ],
      rules: [rulesWithShortFor().text],
    });
    cleanup.push(() => prom.stop());
    const startedAt = Date.now() / 1000;
    await waitScraped(prom, 'up{component="worker"} == 1', 'first worker scrape');

    const sim = stack.sim.control;
    const drive = async () => {
      const mark = (what: string) =>
        process.stdout.write(`# +${(Date.now() / 1000 - startedAt).toFixed(1)} s: ${what}\n`);
      // A worker crashes before the traffic (holding no job, so nothing waits for its lock to
      // expire): its target stays down.
      extraWorker.process.kill('SIGKILL');
      // 503s and 429s the workers retry; dead tokens; a GOAWAY that makes the pool reconnect.
      await sim.addFault({ status: 503, reason: 'ServiceUnavailable', rate: 0.15, count: 400 });
      await sim.addFault({ status: 429, reason: 'TooManyRequests', rate: 0.05, count: 150 });
      await sim.addFault({ status: 400, reason: 'BadDeviceToken', rate: 0.03 });
      await sim.addFault({ goawayAfter: 500 });
      // Paced, so its outcomes, retries and reconnects spread over several scrapes: a counter's
      // first sample is rate()'s baseline, and a burst between two scrapes would hide in it.
      const created = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          notification: { alert: { title: 'observed', body: 'campaign' } },
          audience: { kind: 'tokens', tokens: randomDeviceTokens(3000) },
          ratePerSecond: 400,
        }),
      });
      if (created.status !== 202) throw new Error(`campaign: ${created.status} ${await created.text()}`);
      const campaign = (await created.json()) as { campaignId: string };
      await stackApi(stack, 'locked').send(randomDeviceTokens(20));
      mark('campaign and the locked app sent');
      // Beside the campaign, for a few seconds: a producer's single notifications, its mistakes
      // (400 PF_ERR_BAD_DEVICE_TOKEN), and calls to the replica cut off from Redis (503).
      partition.cut();
      const api = stackApi(stack);
      for (let i = 0; i < 12; i++) {
        await api.send(randomDeviceTokens(2));
        await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ tokens: ['not-a-token'], notification: { alert: 'x' } }),
        });
        await fetch(`http://127.0.0.1:${brokenPort}/v1/apps/${stack.appId}/campaigns/x`);
        await delay(400);
      }
      await waitFor(
        'campaign done',
        async () => {
          const s = (await (
            await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns/${campaign.campaignId}`)
          ).json()) as { state: string };
          return s.state === 'done';
        },
        { timeoutMs: 45_000, intervalMs: 200 },
      );
      mark('campaign done');
      await waitScraped(prom, 'pushfleet_app_paused{app="locked"} > 0', 'the paused app in a scrape');
      await waitScraped(
        prom,
        'pushfleet_notifications_total{outcome="rejected", reason="BadDeviceToken"}',
        'rejections in a scrape',
      );
      // Two more scrapes, so the last increments are in every series.
      await delay(2100);
      mark('scraped');
      return campaign;
    };

    const stopWorkers = async (jobs: number) => {
      await stack.processes.get('worker')!.stop();
      const api = stackApi(stack);
      for (let i = 0; i < jobs; i += 25)
        await Promise.all(
          Array.from({ length: Math.min(25, jobs - i) }, () => api.send(randomDeviceTokens(1))),
        );
    };

    return { stack, prom, startedAt, drive, stopWorkers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
