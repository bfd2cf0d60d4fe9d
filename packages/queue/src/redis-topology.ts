import { readFileSync } from 'node:fs';
import type { ClusterOptions, RedisOptions } from 'ioredis';

/**
 * The `redis:` block of the config, as the factory needs it. Declared here (not imported from
 * @pushfleet/config) so the queue package depends on core only; the config's output type fits it.
 */
export interface RedisHostPort {
  host: string;
  port: number;
}

export interface RedisTlsSettings {
  /** PEM file of the CA that signed the servers' certificates (added to the system CAs). */
  caFile?: string | undefined;
  /** Client certificate and key, for servers that ask for mutual TLS. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  servername?: string | undefined;
  rejectUnauthorized?: boolean | undefined;
}

export interface RedisConnectionSettings {
  /** Standalone server: `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  prefix: string;
  username?: string | undefined;
  password?: string | undefined;
  db?: number | undefined;
  tls?: RedisTlsSettings | undefined;
  sentinel?:
    | {
        name: string;
        hosts: RedisHostPort[];
        /** Password (and ACL user) of the Redis servers Sentinel points at. */
        password?: string | undefined;
        username?: string | undefined;
        /** Password (and ACL user) of the Sentinels themselves, when they require one. */
        sentinelPassword?: string | undefined;
        sentinelUsername?: string | undefined;
        /** TLS to the servers and the Sentinels (true: system CAs; an object: like `redis.tls`). */
        tls?: boolean | RedisTlsSettings | undefined;
        db?: number | undefined;
      }
    | undefined;
  cluster?:
    | {
        /** Seed nodes; the client discovers the rest from CLUSTER SLOTS. */
        nodes: RedisHostPort[];
        /** Addresses the nodes announce → addresses this process can reach (NAT, Docker, k8s). */
        natMap?: Record<string, RedisHostPort> | undefined;
      }
    | undefined;
  /** How long a producer waits for a connection before failing the request. */
  connectTimeoutMs?: number | undefined;
  /** How long a producer waits for one reply (a hung server) before failing the request. */
  commandTimeoutMs?: number | undefined;
}

export type RedisTopology = 'standalone' | 'sentinel' | 'cluster';

export function redisTopology(
  settings: Pick<RedisConnectionSettings, 'sentinel' | 'cluster'>,
): RedisTopology {
  if (settings.cluster) return 'cluster';
  if (settings.sentinel) return 'sentinel';
  return 'standalone';
}

export function tlsOptions(tls: RedisTlsSettings | true): NonNullable<RedisOptions['tls']> {
  if (tls === true) return {};
  const out: NonNullable<RedisOptions['tls']> = {};
  if (tls.caFile) out.ca = [readFileSync(tls.caFile)];
  if (tls.certFile) out.cert = readFileSync(tls.certFile);
  if (tls.keyFile) out.key = readFileSync(tls.keyFile);
  if (tls.servername) out.servername = tls.servername;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Auth and TLS shared by standalone and cluster nodes (a `rediss://` URL turns TLS on too). */
function nodeOptions(settings: RedisConnectionSettings): RedisOptions {
  return definedOnly({
    username: settings.username,
    password: settings.password,
    tls: settings.tls ? tlsOptions(settings.tls) : undefined,
  });
}

/** ioredis options for a Sentinel-managed primary (the client asks the Sentinels where it is). */
export function sentinelOptions(settings: RedisConnectionSettings): RedisOptions {
  const s = settings.sentinel;
  if (!s) throw new Error('sentinelOptions needs redis.sentinel');
  const tls = s.tls === true || typeof s.tls === 'object' ? tlsOptions(s.tls) : undefined;
  return definedOnly({
    sentinels: s.hosts.map(({ host, port }) => ({ host, port })),
    name: s.name,
    username: s.username ?? settings.username,
    password: s.password ?? settings.password,
    sentinelUsername: s.sentinelUsername,
    sentinelPassword: s.sentinelPassword,
    db: s.db ?? settings.db,
    tls,
    enableTLSForSentinelMode: tls ? true : undefined,
    sentinelTLS: tls,
    // After a failover the old primary may come back as a replica: reconnect on READONLY.
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    // Keep asking the Sentinels while they elect a new primary, instead of giving up.
    sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1000),
  } satisfies RedisOptions);
}

export function clusterOptions(
  settings: RedisConnectionSettings,
  redisOptions: RedisOptions,
): ClusterOptions {
  const c = settings.cluster;
  if (!c) throw new Error('clusterOptions needs redis.cluster');
  const tls = settings.tls ?? (settings.url.startsWith('rediss:') ? true : undefined);
  return definedOnly({
    redisOptions: { ...nodeOptions(settings), ...(tls ? { tls: tlsOptions(tls) } : {}), ...redisOptions },
    natMap: c.natMap,
    // ioredis resolves node names to IPs by default; TLS needs the names the certificates carry.
    dnsLookup: tls
      ? (address: string, callback: (err: null, address: string) => void) => callback(null, address)
      : undefined,
    slotsRefreshTimeout: 2000,
  } satisfies ClusterOptions);
}
