import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppName, type AppProcess, type SpawnOptions, spawnApp } from './app-process.ts';
import { freePort } from './free-port.ts';
import { generateProviderKey, type ProviderKey } from './keys.ts';
import { startSimulatorProcess } from './simulator.ts';
import { waitFor } from './wait-for.ts';

export type SimulatorProcess = Awaited<ReturnType<typeof startSimulatorProcess>>;

export interface StackOptions {
  /** A standalone Redis; or give `redis` (a topology's config block) instead. */
  redisUrl?: string;
  /** The `redis:` config block without the prefix (Sentinel, Cluster, TLS…); wins over redisUrl. */
  redis?: Record<string, unknown>;
  /** Key prefix; a fresh one per test keeps tests apart on a shared Redis. */
  prefix: string;
  appId?: string;
  bundleId?: string;
  /** More apps with the same key and endpoint (bundle id `<bundleId>.<id>`), e.g. for isolation tests. */
  extraApps?: string[];
  /** Which processes to start (default: api, worker and scheduler). */
  apps?: AppName[];
  /** Extra config merged over the defaults (e.g. `{ worker: { concurrency: 2 } }`). */
  config?: Record<string, unknown>;
  simulatorArgs?: string[];
  /** Run the apps from the dist/ bundles (`node scripts/build.mjs` first), as production does. */
  compiled?: boolean;
  logLevel?: string;
}

export interface Stack {
  apiUrl: string;
  appId: string;
  bundleId: string;
  sim: SimulatorProcess;
  key: ProviderKey;
  configFile: string;
  processes: Map<AppName, AppProcess>;
  /** Ports of each first process's /metrics, /healthz and /readyz (the api serves them on apiUrl). */
  opsPorts: Record<AppName, number>;
  /** Starts another process of the fleet (e.g. a second worker) with the same config. */
  spawn(name: AppName, options?: SpawnOptions): Promise<AppProcess & { opsPort: number }>;
  stop(): Promise<void>;
}

function merge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      typeof value === 'object' && value && !Array.isArray(value) && typeof current === 'object' && current
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

async function waitHealthy(port: number, proc: AppProcess): Promise<void> {
  await waitFor(
    `${proc.name} /healthz on port ${port}`,
    async () => {
      if (proc.process.exitCode !== null) {
        throw new Error(`${proc.name} exited with ${proc.process.exitCode}:\n${proc.recentLogs()}`);
      }
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return res.ok;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
}

/**
 * A real fleet on loopback: the simulator, a generated provider key registered with it, a config
 * file, and api/worker/scheduler as separate processes. Used by the demo and integration tests.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  if (!options.redis && !options.redisUrl) throw new Error('startStack needs redisUrl or redis');
  const appId = options.appId ?? 'demo';
  const bundleId = options.bundleId ?? 'com.example.pushfleet.demo';
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-stack-'));
  const sim = await startSimulatorProcess({ args: options.simulatorArgs ?? [] });
  const key = generateProviderKey();
  await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  const keyFile = join(dir, `AuthKey_${key.keyId}.p8`);
  writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });

  const ports = { api: await freePort(), worker: await freePort(), scheduler: await freePort() };
  const appEntry = (bundle: string) => ({
    bundleId: bundle,
    environments: [sim.environment],
    credentials: { type: 'token', keyFile, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: sim.port, channelPort: sim.channelPort, caFile: sim.caFile },
  });
  const apps: Record<string, unknown> = { [appId]: appEntry(bundleId) };
  for (const extra of options.extraApps ?? []) apps[extra] = appEntry(`${bundleId}.${extra}`);
  const config = merge(
    {
      redis: { ...(options.redis ?? { url: options.redisUrl }), prefix: options.prefix },
      log: { level: options.logLevel ?? 'warn' },
      apps,
      api: { host: '127.0.0.1', port: ports.api },
      worker: { host: '127.0.0.1', port: ports.worker },
      scheduler: { host: '127.0.0.1', port: ports.scheduler },
    },
    options.config ?? {},
  );
  const configFile = join(dir, 'pushfleet.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const processes = new Map<AppName, AppProcess>();
  const extra: AppProcess[] = [];
  const env = { PUSHFLEET_CONFIG: configFile };
  const spawnOne = async (name: AppName, port: number, spawnOptions: SpawnOptions = {}) => {
    const portEnv = name === 'api' ? {} : { [`PUSHFLEET_${name.toUpperCase()}__PORT`]: String(port) };
    const proc = spawnApp(
      name,
      { ...env, ...portEnv },
      { compiled: options.compiled ?? false, ...spawnOptions },
    );
    await waitHealthy(port, proc);
    return proc;
  };
  try {
    await Promise.all(
      (options.apps ?? ['api', 'worker', 'scheduler']).map(async (name) => {
        processes.set(name, await spawnOne(name, ports[name]));
      }),
    );
  } catch (err) {
    await Promise.allSettled([...processes.values()].map((p) => p.stop()));
    await sim.stop();
    throw err;
  }

  return {
    apiUrl: `http://127.0.0.1:${ports.api}`,
    appId,
    bundleId,
    sim,
    key,
    configFile,
    processes,
    opsPorts: ports,
    async spawn(name, spawnOptions) {
      const opsPort = await freePort();
      const proc = await spawnOne(name, opsPort, spawnOptions);
      extra.push(proc);
      return Object.assign(proc, { opsPort });
    },
    async stop() {
      await Promise.allSettled([...processes.values(), ...extra].map((p) => p.stop()));
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
