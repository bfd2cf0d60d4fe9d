// A fleet (worker and scheduler as real processes) whose apps are added, changed and removed at
// run time through the app registry in Redis, with a producer in the test process that sees
// the registry as the api does (its own RedisAppDirectory).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCredentials } from '@pushfleet/apns';
import { DirectProducer } from '@pushfleet/queue';
import { AppRegistry, Ledger, openAppDirectory, type RedisAppDirectory } from '@pushfleet/store';
import {
  generateProviderKey,
  type ProviderKey,
  type Stack,
  type StackOptions,
  startStack,
} from '@pushfleet/testkit';
import { Redis } from 'ioredis';

export interface RegistryFleet {
  stack: Stack;
  prefix: string;
  redis: Redis;
  registry: AppRegistry;
  /** The test's view of the apps (what a producer like the api sees). */
  directory: RedisAppDirectory;
  producer: DirectProducer;
  ledger: Ledger;
  /** A new provider key, registered with the simulator. */
  newKey(): Promise<ProviderKey>;
  /** The settings of a registry app that sends to the simulator. */
  appBody(bundleId: string, credentials: Record<string, unknown>): Record<string, unknown>;
  /** Lines of a process's JSON logs seen so far, parsed. */
  logs(name: 'worker' | 'scheduler'): Record<string, unknown>[];
  /** The process's /metrics text. */
  metrics(name: 'worker' | 'scheduler'): Promise<string>;
  stop(): Promise<void>;
}

export const tokenCredentials = (key: ProviderKey) => ({
  type: 'token' as const,
  keyPem: key.privateKeyPem,
  keyId: key.keyId,
  teamId: key.teamId,
});

export async function startRegistryFleet(
  redisUrl: string,
  options: Partial<StackOptions> = {},
): Promise<RegistryFleet> {
  const prefix = `registry-fleet-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'pf-registry-fleet-'));
  const kek = randomBytes(32);
  const kekFile = join(dir, 'kek');
  writeFileSync(kekFile, kek.toString('base64'), { mode: 0o600 });
  const stack = await startStack({
    redisUrl,
    prefix,
    apps: ['worker', 'scheduler'],
    logLevel: 'info',
    ...options,
    config: {
      ...options.config,
      appRegistry: { keyEncryptionKey: { file: kekFile }, pollMs: 500 },
      worker: {
        idleDetachMs: 1000,
        activityScanMs: 500,
        ...(options.config?.worker as Record<string, unknown> | undefined),
      },
    },
  });
  const logs = { worker: [] as Record<string, unknown>[], scheduler: [] as Record<string, unknown>[] };
  for (const name of ['worker', 'scheduler'] as const) {
    let partial = '';
    stack.processes.get(name)?.process.stderr?.on('data', (chunk: string | Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        try {
          logs[name].push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // Non-JSON lines are the stack's own check (nonJsonLines).
        }
      }
    });
  }
  const redis = new Redis(redisUrl);
  const config = { apps: {} };
  const registry = new AppRegistry({ redis, prefix, config, kek, checkCredentials });
  const directory = await openAppDirectory({ redis, prefix, config, kek, pollMs: 500 });
  const ledger = new Ledger(redis, prefix);
  const producer = new DirectProducer({
    connection: redis,
    prefix,
    app: (id) => directory.get(id)?.config,
    ledger,
  });
  return {
    stack,
    prefix,
    redis,
    registry,
    directory,
    producer,
    ledger,
    async newKey() {
      const key = generateProviderKey();
      await stack.sim.control.addKey({
        keyId: key.keyId,
        teamId: key.teamId,
        publicKeyPem: key.publicKeyPem,
      });
      return key;
    },
    appBody: (bundleId, credentials) => ({
      bundleId,
      environments: [stack.sim.environment],
      endpoint: { host: '127.0.0.1', port: stack.sim.port, caFile: stack.sim.caFile },
      credentials,
    }),
    logs: (name) => logs[name],
    async metrics(name) {
      const res = await fetch(`http://127.0.0.1:${stack.opsPorts[name]}/metrics`);
      return res.text();
    },
    async stop() {
      await directory.close();
      await producer.queues.close();
      await stack.stop();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A gauge's value for the given labels in a /metrics text, or undefined when the series is absent. */
export function gaugeValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    const found = Object.fromEntries(
      [...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as [string, string]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v))
      return Number(line.slice(line.indexOf('}') + 1));
  }
  return undefined;
}
