/**
 * Compose demo, step 2 (long-running): registers the demo provider key with the simulator, turns
 * on a little fault injection so the dashboard has rejections, invalidations and retries to show,
 * then sends notifications through the HTTP API at a steady rate until stopped.
 *
 *   node --import tsx scripts/ops/demo-traffic.ts
 * Environment: DEMO_API_URL (http://api:8080), DEMO_SIM_CONTROL_URL (http://apns-sim:8444),
 * DEMO_DIR (/demo), DEMO_APP (demo), DEMO_RATE (tokens per second, 50), DEMO_BATCH (25).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoFiles, demoKey } from './demo-init.ts';

/** A few of each kind of outcome; rates are per request (the simulator fires deterministically). */
export const demoFaults = [
  { status: 410, reason: 'Unregistered', rate: 0.02 },
  { status: 400, reason: 'BadDeviceToken', rate: 0.01 },
  { status: 429, reason: 'TooManyRequests', rate: 0.01 },
  { latencyMs: 5, latencyJitterMs: 20, rate: 1 },
];

async function call(url: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Registers the demo key (ignoring "already registered") and the demo faults. */
export async function prepareSimulator(controlUrl: string, dir: string, faults = demoFaults): Promise<void> {
  const publicKeyPem = readFileSync(demoFiles(dir).providerPublicKeyFile, 'utf8');
  await call(`${controlUrl}/keys`, json({ ...demoKey, publicKeyPem })).catch((err: Error) => {
    if (!/→ 400/.test(err.message)) throw err;
  });
  await call(`${controlUrl}/faults`, { method: 'DELETE' });
  for (const fault of faults) await call(`${controlUrl}/faults`, json(fault));
}

/** One API request with `count` random tokens; resolves to the notification id. */
export async function sendBatch(apiUrl: string, app: string, count: number): Promise<string> {
  const tokens = Array.from({ length: count }, () => randomBytes(32).toString('hex'));
  const body = await call(
    `${apiUrl}/v1/apps/${app}/notifications`,
    json({ tokens, notification: { alert: { title: 'Pushfleet demo', body: new Date().toISOString() } } }),
  );
  return (body as { id: string }).id;
}

async function waitUntilUp(url: string): Promise<void> {
  for (;;) {
    try {
      await call(url);
      return;
    } catch {
      await sleep(1000);
    }
  }
}

async function main(): Promise<void> {
  const env = process.env;
  const apiUrl = env.DEMO_API_URL ?? 'http://api:8080';
  const controlUrl = env.DEMO_SIM_CONTROL_URL ?? 'http://apns-sim:8444';
  const app = env.DEMO_APP ?? 'demo';
  const rate = Number(env.DEMO_RATE ?? 50);
  const batch = Math.max(1, Number(env.DEMO_BATCH ?? 25));
  await waitUntilUp(`${controlUrl}/healthz`);
  await prepareSimulator(controlUrl, env.DEMO_DIR ?? '/demo');
  await waitUntilUp(`${apiUrl}/readyz`);
  process.stderr.write(`demo-traffic: sending ${rate} notifications/s to ${apiUrl} (app ${app})\n`);
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  process.once('SIGINT', () => (stopping = true));
  let sent = 0;
  while (!stopping) {
    const started = Date.now();
    for (let left = rate; left > 0 && !stopping; left -= batch) {
      await sendBatch(apiUrl, app, Math.min(batch, left)).catch((err: Error) =>
        process.stderr.write(`demo-traffic: ${err.message}\n`),
      );
    }
    sent += rate;
    if (sent % (rate * 60) === 0) process.stderr.write(`demo-traffic: ${sent} sent\n`);
    await sleep(Math.max(0, 1000 - (Date.now() - started)));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    process.stderr.write(`demo-traffic: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
