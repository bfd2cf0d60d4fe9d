import { environments } from '@pushfleet/core';
import { z } from 'zod';

const tokenCredentials = z
  .object({
    type: z.literal('token'),
    /** Path to the .p8 (PKCS#8 P-256) signing key Apple issued. */
    keyFile: z.string().min(1),
    keyId: z.string().min(1),
    teamId: z.string().min(1),
  })
  .strict();

const certificateCredentials = z
  .object({
    type: z.literal('certificate'),
    /** PEM certificate file (with keyFile) or a .p12/.pfx bundle (pfxFile). */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    pfxFile: z.string().min(1).optional(),
    passphrase: z.string().optional(),
  })
  .strict()
  .refine((c) => c.pfxFile !== undefined || (c.certFile !== undefined && c.keyFile !== undefined), {
    message: 'certificate credentials need pfxFile, or certFile and keyFile',
  });

/** Where to reach APNs instead of Apple's hosts: the simulator in tests, demos and benchmarks. */
const endpointOverride = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** PEM file of the CA that signed the endpoint's certificate (trusted in addition to the system CAs). */
    caFile: z.string().min(1).optional(),
    /**
     * The channel-management API's port on `host` (the simulator's `channelPort`); APNs serves it on
     * its own host and port. Unset: Apple's channel-management host for the environment.
     */
    channelPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict();

/** A legacy binary feedback service (docs/apns-protocol.md §E) to poll, e.g. the simulator's. */
const legacyFeedbackEndpoint = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** PEM file of the CA that signed the endpoint's certificate. */
    caFile: z.string().min(1).optional(),
    /** The app's push certificate: PEM cert + key, or a .p12/.pfx bundle. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    pfxFile: z.string().min(1).optional(),
    passphrase: z.string().optional(),
    /** The tuples carry no environment: the endpoint's (default: the app's first). */
    environment: z.enum(environments).optional(),
    timeoutMs: z.number().int().min(100).default(30_000),
  })
  .strict()
  .refine((c) => c.pfxFile !== undefined || (c.certFile !== undefined && c.keyFile !== undefined), {
    message: 'a legacy feedback endpoint needs pfxFile, or certFile and keyFile',
  });

/** Batched, signed POSTs of the app's feedback feed. */
const feedbackWebhook = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    /** HMAC key: inline, or (better: kept out of config files) the name of an environment variable. */
    secret: z.string().min(16).optional(),
    secretEnv: z.string().min(1).optional(),
    /** Feed items per POST. */
    batchSize: z.number().int().min(1).max(1000).default(100),
    /** Tries per batch before it becomes a dead letter. */
    maxAttempts: z.number().int().min(1).max(30).default(8),
    /** Retry delay base: attempt n waits ½–1 × backoffMs·2^(n−1) (8 tries ≈ 1–2 min at the default). */
    backoffMs: z.number().int().min(1).default(1000),
    timeoutMs: z.number().int().min(100).default(10_000),
  })
  .strict()
  .refine((w) => (w.secret === undefined) !== (w.secretEnv === undefined), {
    message: 'a webhook needs exactly one of secret or secretEnv',
  });

const appFeedbackConfig = z
  .object({ legacyEndpoint: legacyFeedbackEndpoint.optional(), webhook: feedbackWebhook.optional() })
  .strict();

/** `apps.<id>.connections` in the object form: the bounds of the self-sizing pool. */
const connectionPool = z
  .object({
    /** Connections kept open while the app sends (0: none until the first send). */
    min: z.number().int().min(0).max(64).default(1),
    /** Most connections per environment in one worker; 8 × 500 streams at a 100 ms round trip ≈ 40,000/s. */
    max: z.number().int().min(1).max(64).default(8),
    /** Every connection closes after this long without a send (reopened on demand): idle apps cost nothing. */
    idleCloseMs: z
      .number()
      .int()
      .min(1000)
      .default(5 * 60_000),
    /** A connection above `min` closes after this long unused. */
    shrinkAfterMs: z.number().int().min(1000).default(30_000),
  })
  .strict()
  .refine((c) => c.min <= c.max, { message: 'connections.min must not exceed connections.max' });

export const appConfigSchema = z
  .object({
    bundleId: z.string().regex(/^[A-Za-z0-9.-]+$/, 'bundleId must be a reverse-DNS identifier'),
    environments: z.array(z.enum(environments)).min(1).default(['production']),
    credentials: z.union([tokenCredentials, certificateCredentials]),
    endpoint: endpointOverride.optional(),
    /**
     * HTTP/2 connections per environment in each worker process: a pool that opens connections
     * while every stream is in use and requests queue (streams in flight ≈ rate × APNs round
     * trip), up to `max`, and closes them when idle. A plain number (the old form) is a fixed size.
     */
    connections: z
      .union([
        z
          .number()
          .int()
          .min(1)
          .max(64)
          .transform((n) => ({ min: n, max: n, idleCloseMs: 5 * 60_000, shrinkAfterMs: 30_000 })),
        connectionPool,
      ])
      .prefault({}),
    /** Notifications per second for this app across the whole fleet; unset = unlimited. */
    rateLimitPerSecond: z.number().int().min(1).optional(),
    /** Feedback service extras: a legacy feedback endpoint to poll, a webhook to notify. */
    feedback: appFeedbackConfig.optional(),
  })
  .strict();

/** `host:port` or `{ host, port }` (the Helm chart renders the object form as JSON). */
const hostPort = z.union([
  z
    .string()
    .regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port')
    .transform((v) => ({
      host: v.slice(0, v.lastIndexOf(':')),
      port: Number(v.slice(v.lastIndexOf(':') + 1)),
    })),
  z.object({ host: z.string().min(1), port: z.coerce.number().int().min(1).max(65535) }).strict(),
]);

const redisTls = z
  .object({
    /** PEM file of the CA that signed the servers' certificates (added to the system CAs). */
    caFile: z.string().min(1).optional(),
    /** Client certificate and key, for mutual TLS. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().optional(),
  })
  .strict();

/** Sentinel-managed primary. `masterName`/`sentinels` are accepted as the chart's `name`/`hosts`. */
const redisSentinel = z.preprocess(
  (raw) => {
    if (typeof raw !== 'object' || raw === null) return raw;
    const { masterName, sentinels, ...rest } = raw as Record<string, unknown>;
    return { ...rest, name: rest.name ?? masterName, hosts: rest.hosts ?? sentinels };
  },
  z
    .object({
      name: z.string().min(1),
      hosts: z.array(hostPort).min(1),
      /** Password (and ACL user) of the Redis servers; defaults to redis.password/username. */
      password: z.string().optional(),
      username: z.string().optional(),
      /** Password (and ACL user) of the Sentinels themselves, when they require one. */
      sentinelPassword: z.string().optional(),
      sentinelUsername: z.string().optional(),
      /** TLS to the servers and the Sentinels: true (system CAs) or the same object as redis.tls. */
      tls: z.union([z.boolean(), redisTls]).default(false),
      db: z.coerce.number().int().min(0).optional(),
    })
    .strict(),
);

const redisCluster = z
  .object({
    /** Seed nodes; the rest are discovered. */
    nodes: z.array(hostPort).min(1),
    /** Announced address (`host:port`) → reachable address, when nodes sit behind NAT. */
    natMap: z.record(z.string(), hostPort).optional(),
  })
  .strict();

/**
 * Redis: standalone `url` (`rediss://` for TLS), or `sentinel`, or `cluster`. Every app's keys
 * (queue, records, registry, feedback) share the app's own hash tag, the fleet's other keys
 * `{<prefix>}`: in Cluster mode apps spread over every primary, and each multi-key script stays
 * in one slot. A prefix with a hash tag of its own (`{pf-eu}`) keeps everything in that slot.
 */
const redisSchema = z
  .object({
    url: z.string().min(1).default('redis://127.0.0.1:6379'),
    prefix: z.string().min(1).default('pushfleet'),
    /** ACL user and password (or put them in the URL); used for cluster nodes too. */
    username: z.string().optional(),
    password: z.string().optional(),
    db: z.number().int().min(0).optional(),
    tls: redisTls.optional(),
    sentinel: redisSentinel.optional(),
    cluster: redisCluster.optional(),
    /** How long an api request waits for a Redis connection before it answers 503. */
    connectTimeoutMs: z.number().int().min(100).default(2000),
    /** How long an api request waits for one Redis reply (a hung or paused server) before it answers 503. */
    commandTimeoutMs: z.number().int().min(100).default(5000),
  })
  .strict()
  .refine((r) => !(r.sentinel && r.cluster), { message: 'set redis.sentinel or redis.cluster, not both' })
  .prefault({});

export const configSchema = z
  .object({
    redis: redisSchema,
    apps: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'app ids are lower-case [a-z0-9-]'),
      appConfigSchema,
    ),
    api: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
        bodyLimitBytes: z.number().int().min(1024).default(1_048_576),
        /**
         * JSON campaign bodies (an inline audience of up to 100,000 tokens is ~6.8 MB); uploads
         * are streamed and not bound by it.
         */
        campaignBodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .default(8 * 1_048_576),
        /**
         * On shutdown, requests still running (a slow upload) get this long to finish; then their
         * connections are closed, so the api always stops within its deadline.
         */
        shutdownGraceMs: z.number().int().min(0).default(5000),
        maxTokensPerRequest: z.number().int().min(1).max(10_000).default(1000),
        /**
         * API keys, stored as hashes (`pushfleet keys hash`): `sha256:<hex>` or
         * `scrypt:<salt hex>:<hash hex>`. Each key is scoped to apps (`*` = all) and permissions.
         */
        keys: z
          .array(
            z
              .object({
                id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'key ids are [A-Za-z0-9._-]'),
                hash: z
                  .string()
                  .regex(
                    /^(sha256:[0-9a-f]{64}|scrypt:[0-9a-f]{16,}:[0-9a-f]{64})$/,
                    'hash is sha256:<64 hex> or scrypt:<salt hex>:<64 hex>',
                  ),
                apps: z.array(z.string().min(1)).min(1).default(['*']),
                permissions: z.array(z.enum(['send', 'register', 'read', 'admin'])).min(1),
              })
              .strict(),
          )
          .default([]),
        /**
         * `required` unset: auth is on exactly when keys are configured. Production sets
         * `required: true` (the api refuses to start without keys); the demo may set false.
         */
        auth: z.object({ required: z.boolean().optional() }).strict().prefault({}),
        /** Per API key (per api replica) token bucket. */
        rateLimit: z
          .object({
            requestsPerSecond: z.number().min(0.01).default(500),
            burst: z.number().int().min(1).default(1000),
          })
          .strict()
          .prefault({}),
        idempotencyTtlSeconds: z.number().int().min(60).default(86_400),
        /**
         * A request holds its Idempotency-Key this long (a long upload keeps extending it); a
         * retry while it holds it gets 409, a retry after a request that died re-runs it.
         */
        idempotencyLeaseMs: z.number().int().min(100).default(30_000),
        /** Upper bound of one uploaded campaign audience (lines). */
        maxCampaignTokens: z.number().int().min(1).default(20_000_000),
        /** Tokens a single notification may resolve from user ids / tags before it must be a campaign. */
        maxResolvedTokens: z.number().int().min(1).default(10_000),
        /** Priority of campaign deliver batches (single notifications use 1; lower runs first). */
        campaignPriority: z.number().int().min(2).max(2_000_000).default(100),
      })
      .strict()
      .prefault({}),
    worker: z
      .object({
        host: z.string().default('0.0.0.0'),
        /** Port of /metrics and /healthz; 0 picks a free one. */
        port: z.number().int().min(0).max(65535).default(9091),
        /**
         * Jobs processed at once per app queue. A job holds its slot for at least one APNs round
         * trip, so single notifications per second per worker ≈ concurrency / RTT: 128 carries
         * 500/s at 100 ms with headroom (32 capped it at 320/s). Streams are bounded by the pool.
         */
        concurrency: z.number().int().min(1).max(512).default(128),
        /**
         * Run each app's express queue (deliver jobs of one token) on a thread of its own, so a
         * single notification never waits for the event loop turns another app's campaign takes.
         * `false`: one thread for both queues (about 30 MB less, single sends share the loop).
         */
        expressThread: z.boolean().default(true),
        /** Streams in flight per HTTP/2 connection; kept below APNs' SETTINGS_MAX_CONCURRENT_STREAMS. */
        maxInFlightPerConnection: z.number().int().min(1).max(1000).default(500),
        requestTimeoutMs: z.number().int().min(100).default(10_000),
        maxAttempts: z.number().int().min(1).max(50).default(8),
        retryBaseMs: z.number().int().min(1).default(1000),
        retryMaxMs: z
          .number()
          .int()
          .min(1)
          .default(15 * 60_000),
        shutdownGraceMs: z.number().int().min(0).default(30_000),
        /**
         * `lean`: Pushfleet's transport on its own HTTP/2 client, the lean client (`http2` is
         * accepted as its old name); `node-http2`: the same transport on node:http2 sessions;
         * `node-apn`: @parse/node-apn (for comparison).
         */
        transport: z
          .enum(['lean', 'http2', 'node-http2', 'node-apn'])
          .transform((t) => (t === 'http2' ? 'lean' : t))
          .default('lean'),
        /** Tokens sent between checkpoints: after a crash at most this many are sent twice. */
        checkpointEvery: z.number().int().min(1).max(1000).default(100),
        /** BullMQ lock: a job whose worker died is taken over after 1–1.5 × this long. */
        lockDurationMs: z.number().int().min(1000).default(30_000),
        /**
         * How often a job may lose its worker (kill, drain past the grace period, a Redis outage
         * longer than the lock) and be resumed; after that its unsent tokens end `failed`
         * (`WorkerLost`), so a job that crashes every worker it reaches cannot crash them forever.
         */
        maxStalledCount: z.number().int().min(1).max(100).default(3),
        /**
         * A worker attaches to an app's queue only while the app has work; it reads which apps do
         * this often (and is told at once when an idle app gets work).
         */
        activityScanMs: z.number().int().min(100).default(2000),
        /** An attached app whose queue stayed empty this long is detached (its connection closed). */
        idleDetachMs: z.number().int().min(100).default(30_000),
        /** How long an app stays paused after APNs rejects its credentials before a probe retries. */
        credentialsPauseMs: z
          .number()
          .int()
          .min(1000)
          .default(5 * 60_000),
      })
      .strict()
      .prefault({}),
    scheduler: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(9092),
        feedbackPollSeconds: z.number().int().min(1).default(60),
        /** Legacy feedback endpoints are polled this often (Apple advised daily; node-apn hourly). */
        legacyFeedbackPollSeconds: z.number().int().min(1).default(3600),
        staleSweepSeconds: z.number().int().min(1).default(86_400),
        /** Tokens not registered again for this long are retired (APNs may keep answering 200). */
        staleTokenDays: z.number().min(1).default(180),
        housekeepingSeconds: z.number().int().min(1).default(600),
        /** Pending feedback events idle this long are taken over from a consumer that died. */
        feedbackClaimIdleMs: z.number().int().min(0).default(60_000),
        /** Events one feedback-poll run applies at most; the next run continues. */
        feedbackMaxEventsPerRun: z.number().int().min(1).default(100_000),
        /** Age after which the feedback stream and the per-app feeds are trimmed. */
        feedbackRetentionSeconds: z
          .number()
          .int()
          .min(60)
          .default(7 * 86_400),
        /** Webhook batches posted at once by one scheduler process. */
        webhookConcurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    /**
     * Apps added at run time (admin API) live in Redis beside `apps`. Their credentials are stored
     * encrypted (AES-256-GCM) under the key-encryption key: 32 random bytes, base64 or hex
     * (`openssl rand -base64 32`), read from a file or an environment variable. Every process
     * needs the same key once credentials are stored; without one, storing them is refused.
     */
    appRegistry: z
      .object({
        keyEncryptionKey: z
          .object({ file: z.string().min(1).optional(), env: z.string().min(1).optional() })
          .strict()
          .refine((k) => (k.file === undefined) !== (k.env === undefined), {
            message: 'keyEncryptionKey needs exactly one of file or env',
          })
          .optional(),
        /** How often each process reads the registry's version: the backstop for a missed change message. */
        pollMs: z.number().int().min(100).default(2000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type AppConfig = z.output<typeof appConfigSchema>;
