import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { dataNodeArgs, type RedisProcess, spawnRedisProcess, withProbe } from './redis-process.ts';
import { waitFor } from './wait-for.ts';

export interface StartedSentinel {
  kind: 'sentinel';
  masterName: string;
  /** The fleet's `redis:` config block (add `prefix`). */
  config: { sentinel: { name: string; hosts: { host: string; port: number }[] } };
  /** Data nodes; index 0 started as the primary. */
  nodes: RedisProcess[];
  sentinels: RedisProcess[];
  /** Port of the node Sentinel currently names as primary. */
  primaryPort(): Promise<number>;
  /**
   * Stops the current primary (SIGTERM: a clean stop, Redis waits for the replica to catch up;
   * SIGKILL: a crash) and waits until the Sentinels have promoted another node.
   */
  failover(signal?: 'SIGTERM' | 'SIGKILL'): Promise<{ from: number; to: number; ms: number }>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  replicas?: number;
  sentinels?: number;
  /** Sentinel down-after-milliseconds: how fast a dead primary is noticed. */
  downAfterMs?: number;
  /** Extra arguments for every data node (e.g. AOF). */
  nodeArgs?: string[];
}

/**
 * A primary, its replicas and a quorum of Sentinels (`redis-server <conf> --sentinel`), all on
 * free loopback ports, tuned to fail over within a few seconds.
 */
export async function startRedisSentinel(options: SentinelOptions = {}): Promise<StartedSentinel> {
  const masterName = 'pushfleet-test';
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-sentinel-'));
  const started: RedisProcess[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const nodes: RedisProcess[] = [];
    const primaryPort = await freePort();
    const makeNode = async (port: number, extra: string[]) => {
      const d = mkdtempSync(join(dir, `node-${port}-`));
      const proc = await spawnRedisProcess(
        port,
        dataNodeArgs(port, d, ['--appendonly', 'no', ...(options.nodeArgs ?? []), ...extra]),
      );
      started.push(proc);
      nodes.push(proc);
    };
    await makeNode(primaryPort, []);
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      await makeNode(await freePort(), ['--replicaof', '127.0.0.1', String(primaryPort)]);
    }
    await waitFor(
      'replicas in sync',
      () =>
        withProbe(primaryPort, async (r) => {
          const info = await r.info('replication');
          const online = info.match(/state=online/g)?.length ?? 0;
          return online === (options.replicas ?? 1);
        }),
      { timeoutMs: 10_000, intervalMs: 50 },
    );

    const sentinels: RedisProcess[] = [];
    const count = options.sentinels ?? 3;
    const quorum = Math.floor(count / 2) + 1;
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const proc = await spawnRedisProcess(port, [conf, '--sentinel']);
      started.push(proc);
      sentinels.push(proc);
    }
    // A failover needs every Sentinel to know the others (hello messages, every 2 s) and the replicas.
    await waitFor(
      'Sentinels to discover each other and the replicas',
      async () => {
        for (const s of sentinels) {
          const ok = await withProbe(s.port, async (r) => {
            const peers = (await r.call('SENTINEL', 'SENTINELS', masterName)) as unknown[];
            const replicas = (await r.call('SENTINEL', 'REPLICAS', masterName)) as unknown[];
            return peers.length === count - 1 && replicas.length === (options.replicas ?? 1);
          });
          if (!ok) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );

    const primaryPortNow = () =>
      withProbe(sentinels[0]!.port, async (r) => {
        const addr = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
        return Number(addr[1]);
      });

    return {
      kind: 'sentinel',
      masterName,
      config: {
        sentinel: { name: masterName, hosts: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })) },
      },
      nodes,
      sentinels,
      primaryPort: primaryPortNow,
      async failover(signal = 'SIGTERM') {
        const from = await primaryPortNow();
        const t0 = Date.now();
        await nodes.find((n) => n.port === from)!.stop(signal);
        const to = await waitFor(
          'Sentinel to promote a replica',
          async () => {
            const port = await primaryPortNow();
            if (port === from) return undefined;
            // Promoted and answering as a primary (not still a replica mid-switch).
            const role = await withProbe(port, async (r) => (await r.call('ROLE')) as [string]);
            return role[0] === 'master' ? port : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        return { from, to, ms: Date.now() - t0 };
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
