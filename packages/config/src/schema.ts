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
  })
  .strict();

export const appConfigSchema = z
  .object({
    bundleId: z.string().regex(/^[A-Za-z0-9.-]+$/, 'bundleId must be a reverse-DNS identifier'),
    environments: z.array(z.enum(environments)).min(1).default(['production']),
    credentials: z.union([tokenCredentials, certificateCredentials]),
    endpoint: endpointOverride.optional(),
    /** HTTP/2 connections per environment in each worker process. */
    connections: z.number().int().min(1).max(64).default(1),
    /** Notifications per second for this app across the whole fleet; unset = unlimited. */
    rateLimitPerSecond: z.number().int().min(1).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    redis: z
      .object({
        url: z.string().min(1).default('redis://127.0.0.1:6379'),
        prefix: z.string().min(1).default('pushfleet'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'pushfleet' }),
    apps: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'app ids are lower-case [a-z0-9-]'),
      appConfigSchema,
    ),
    api: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
        bodyLimitBytes: z.number().int().min(1024).default(1_048_576),
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
        /** Deliver jobs processed at once per app queue. */
        concurrency: z.number().int().min(1).max(256).default(8),
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
        /** `http2`: Pushfleet's lean node:http2 transport; `node-apn`: @parse/node-apn (for comparison). */
        transport: z.enum(['http2', 'node-apn']).default('http2'),
        /** Tokens sent between checkpoints: after a crash at most this many are sent twice. */
        checkpointEvery: z.number().int().min(1).max(1000).default(100),
        /** BullMQ lock: a job whose worker died is taken over after about this long. */
        lockDurationMs: z.number().int().min(1000).default(30_000),
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
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
export type AppConfig = z.output<typeof appConfigSchema>;
