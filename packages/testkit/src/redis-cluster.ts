import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { dataNodeArgs, type RedisProcess, spawnRedisProcess, withProbe } from './redis-process.ts';
import { waitFor } from './wait-for.ts';

export interface StartedCluster {
  kind: 'cluster';
  /** The fleet's `redis:` config block (add `prefix`; the schema hash-tags it). */
  config: { cluster: { nodes: { host: string; port: number }[] } };
  primaries: RedisProcess[];
  replicas: RedisProcess[];
  stop(): Promise<void>;
}

export interface ClusterOptions {
  primaries?: number;
  /** Replicas per primary. */
  replicas?: number;
  nodeArgs?: string[];
}

const slotCount = 16_384;

/**
 * A Redis Cluster on free loopback ports, built with CLUSTER ADDSLOTSRANGE / MEET / REPLICATE
 * (no redis-cli needed): `primaries` primaries splitting the slots, each with `replicas` replicas.
 */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<StartedCluster> {
  const primaryCount = options.primaries ?? 3;
  const replicasEach = options.replicas ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-cluster-'));
  const started: RedisProcess[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.map((p) => p.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const spawnNode = async () => {
      const port = await freePort();
      const nodeDir = mkdtempSync(join(dir, `node-${port}-`));
      const proc = await spawnRedisProcess(
        port,
        dataNodeArgs(port, nodeDir, [
          '--appendonly',
          'no',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
          ...(options.nodeArgs ?? []),
        ]),
      );
      started.push(proc);
      return proc;
    };
    const primaries = await Promise.all(Array.from({ length: primaryCount }, spawnNode));
    const replicas = await Promise.all(Array.from({ length: primaryCount * replicasEach }, spawnNode));
    const all = [...primaries, ...replicas];
    const ids = new Map<number, string>();
    for (const node of all) {
      ids.set(node.port, await withProbe(node.port, async (r) => String(await r.call('CLUSTER', 'MYID'))));
    }

    for (const [i, node] of primaries.entries()) {
      const from = Math.floor((i * slotCount) / primaryCount);
      const to = Math.floor(((i + 1) * slotCount) / primaryCount) - 1;
      await withProbe(node.port, (r) => r.call('CLUSTER', 'ADDSLOTSRANGE', from, to));
    }
    for (const node of all.slice(1)) {
      await withProbe(all[0]!.port, (r) => r.call('CLUSTER', 'MEET', '127.0.0.1', node.port));
    }
    const everyNodeKnowsAll = async () => {
      for (const node of all) {
        const text = await withProbe(node.port, async (r) => String(await r.call('CLUSTER', 'NODES')));
        const lines = text.trim().split('\n');
        if (lines.length !== all.length || lines.some((l) => /handshake|noaddr/.test(l))) return false;
      }
      return true;
    };
    await waitFor('cluster nodes to meet', everyNodeKnowsAll, { timeoutMs: 20_000, intervalMs: 100 });

    for (const [i, replica] of replicas.entries()) {
      const primary = primaries[i % primaryCount]!;
      await withProbe(replica.port, (r) => r.call('CLUSTER', 'REPLICATE', ids.get(primary.port)!));
    }
    await waitFor(
      'cluster state ok with replicas in sync',
      async () => {
        for (const node of all) {
          const ok = await withProbe(node.port, async (r) => {
            const info = String(await r.call('CLUSTER', 'INFO'));
            if (!info.includes('cluster_state:ok')) return false;
            const replication = await r.info('replication');
            return replicas.includes(node)
              ? replication.includes('master_link_status:up')
              : (replication.match(/state=online/g)?.length ?? 0) === replicasEach;
          });
          if (!ok) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    return {
      kind: 'cluster',
      config: { cluster: { nodes: primaries.map((p) => ({ host: '127.0.0.1', port: p.port })) } },
      primaries,
      replicas,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
