import { environments } from '@pushfleet/core';
import {
  type AppView,
  appPutBodySchema,
  credentialInfoSchema,
  credentialUploadSchema,
} from '@pushfleet/store';
import { z } from 'zod';
import { documented } from './documented.ts';

/**
 * The admin routes' schemas (`/v1/apps`). Requests are validated with the app registry's own
 * schemas (packages/store: the config file's app schema without file paths), given descriptions
 * and examples here on documented copies (documented.ts). Answers are `AppView`s: never key
 * material.
 */
export { unknownAppFields } from './documented.ts';

const examplePem = (kind: string) =>
  `-----BEGIN ${kind}-----\nMIGTAgEAMBMGByqGSM49…\n-----END ${kind}-----\n`;

export const credentialUploadBody = documented(
  credentialUploadSchema,
  {
    id: 'CredentialUpload',
    description:
      'Credentials, inline: a `.p8` token key with its key id and team id (`type: token`), or a certificate ' +
      '(`type: certificate`): a `.p12` bundle in base64 with its passphrase, or a PEM certificate (chain) and ' +
      'key. Checked before they are stored (a P-256 key; Apple ids; the passphrase; the key matches the ' +
      'certificate; validity; the topics cover the bundle id); stored sealed (AES-256-GCM) and never returned.',
    example: {
      type: 'token',
      keyPem: examplePem('PRIVATE KEY'),
      keyId: 'ABC123DEFG',
      teamId: 'DEF123GHIJ',
    },
    options: [
      {
        fields: {
          type: '`token`: an APNs auth key (`.p8`), signed JWTs',
          keyPem: 'The `.p8` file’s text (PKCS#8 PEM, a P-256 key)',
          keyId: {
            description: 'The key’s 10-character id (Apple Developer account)',
            example: 'ABC123DEFG',
          },
          teamId: { description: 'Your 10-character team id', example: 'DEF123GHIJ' },
        },
      },
      {
        fields: {
          type: '`certificate`: an APNs SSL certificate for the bundle id',
          pfx: 'The `.p12`/`.pfx` file in base64 (with `passphrase`); or give `certPem` and `keyPem`',
          certPem: 'The certificate (chain) in PEM, with `keyPem`',
          keyPem: 'The certificate’s private key in PEM (encrypted with `passphrase`, or not)',
          passphrase: 'The `.p12` passphrase, or the PEM key’s',
        },
      },
    ],
  },
  'CredentialUpload',
);

const hostPort = {
  host: { description: 'Host name', example: 'apns-sim.internal' },
  port: { description: 'Port', example: 2197 },
};

export const appPutBody = documented(
  appPutBodySchema.safeExtend({ credentials: credentialUploadBody.optional() }),
  {
    id: 'AppPut',
    description:
      'An app’s settings (the config file’s `apps.<id>` fields, credentials inline instead of files). ' +
      'Replaces the settings as a whole: fields left out take their defaults. `credentials` are required ' +
      'to create an app; left out of an update, the stored ones stay.',
    example: {
      bundleId: 'com.example.news',
      environments: ['production', 'sandbox'],
      connections: { min: 0, max: 4 },
      rateLimitPerSecond: 2000,
      credentials: {
        type: 'token',
        keyPem: examplePem('PRIVATE KEY'),
        keyId: 'ABC123DEFG',
        teamId: 'DEF123GHIJ',
      },
    },
    fields: {
      bundleId: { description: 'The app’s bundle id: the APNs topic', example: 'com.example.news' },
      environments: {
        description:
          'APNs environments the app sends to; the first is the default (default `["production"]`)',
        example: ['production', 'sandbox'],
      },
      endpoint: {
        description:
          'Where to reach APNs instead of Apple’s hosts (a simulator or a proxy); `caFile` is a path on the workers',
        fields: {
          ...hostPort,
          caFile: 'PEM file (on the workers) of the CA that signed the endpoint’s certificate',
          channelPort: 'The channel-management API’s port on `host` (unset: Apple’s channel-management host)',
        },
      },
      connections: {
        description:
          'HTTP/2 connections per environment in each worker: `{ min, max, idleCloseMs, shrinkAfterMs }` (a ' +
          'self-sizing pool; idle apps keep none after `idleCloseMs`), or a number for a fixed size',
        example: { min: 0, max: 8 },
      },
      rateLimitPerSecond: {
        description: 'Notifications per second for this app across the fleet; unset: unlimited',
        example: 2000,
      },
      feedback: {
        description: 'Feedback extras: a webhook the feed is POSTed to, signed',
        fields: {
          legacyEndpoint: {
            description: 'A legacy binary feedback service: config file only (refused here: it names files)',
            fields: {
              ...hostPort,
              caFile: 'CA file',
              certFile: 'Certificate file',
              keyFile: 'Key file',
              pfxFile: '`.p12` file',
              passphrase: 'Passphrase',
              environment: 'The environment its tuples are for',
              timeoutMs: 'Read timeout in ms',
            },
          },
          webhook: {
            description: 'Batched, HMAC-signed POSTs of the app’s feedback feed',
            fields: {
              url: {
                description: 'http(s) URL the batches are POSTed to',
                example: 'https://hooks.example.com/apns',
              },
              secret: 'HMAC key (≥ 16 characters), stored sealed and shown as `[redacted]`',
              secretEnv: 'Or: the environment variable (on the scheduler) holding the HMAC key',
              batchSize: 'Feed items per POST (default 100)',
              maxAttempts: 'Tries per batch before it becomes a dead letter (default 8)',
              backoffMs: 'Retry delay base in ms (default 1000)',
              timeoutMs: 'Per-POST timeout in ms (default 10000)',
            },
          },
        },
      },
      credentials: 'Required to create the app; optional on updates (the stored credentials stay)',
    },
  },
  'AppPut',
);

export const registryAppParams = z.object({
  app: z
    .string()
    .describe('The app id: lower-case `[a-z0-9-]`, at most 63 characters')
    .meta({ example: 'news' }),
});

const iso = (description: string) => z.iso.datetime().nullable().describe(description);

export const credentialInfoView = documented(
  credentialInfoSchema,
  {
    id: 'CredentialInfo',
    description:
      'The public part of an app’s credentials (never key material): a token key’s ids and fingerprint, or a ' +
      'certificate’s subject, topics, environments and validity. `notAfter` is when it expires (null for ' +
      'token keys, which do not).',
    options: [
      {
        fields: {
          type: '`token`',
          keyId: 'The key id',
          teamId: 'The team id',
          fingerprint: 'SHA-256 of the public key (SPKI DER), colon-separated hex',
          notAfter: 'Null: token keys do not expire',
        },
      },
      {
        fields: {
          type: '`certificate`',
          fingerprint: 'SHA-256 of the certificate (DER), colon-separated hex',
          subject: 'The certificate’s subject',
          issuer: 'Its issuer',
          serialNumber: 'Its serial number (hex)',
          topics: 'Topics it may push to (bundle ids and their suffixes)',
          environments: 'APNs environments it is valid for',
          notBefore: 'Valid from (ISO 8601)',
          notAfter: 'Expires at (ISO 8601): renew before',
        },
      },
    ],
  },
  'CredentialInfo',
);

const optionalFile = (description: string) => z.string().optional().describe(description);

/** Settings as answered: secrets `[redacted]`, a URL's password hidden. */
const appSettingsView = z
  .object({
    bundleId: z.string().describe('Bundle id (the APNs topic)'),
    environments: z.array(z.enum(environments)).describe('APNs environments; the first is the default'),
    endpoint: z
      .object({
        host: z.string().describe('Host name'),
        port: z.number().int().describe('Port'),
        caFile: optionalFile('PEM file of the CA that signed the endpoint’s certificate'),
        channelPort: z.number().int().optional().describe('The channel-management API’s port on `host`'),
      })
      .optional()
      .describe('Where APNs is reached instead of Apple’s hosts'),
    connections: z
      .object({
        min: z.number().int().describe('Connections kept open while the app sends'),
        max: z.number().int().describe('Most connections per environment in one worker'),
        idleCloseMs: z.number().int().describe('Every connection closes after this long without a send'),
        shrinkAfterMs: z.number().int().describe('A connection above `min` closes after this long unused'),
      })
      .describe('The HTTP/2 pool per environment in each worker'),
    rateLimitPerSecond: z.number().int().optional().describe('Notifications per second across the fleet'),
    feedback: z
      .object({
        legacyEndpoint: z
          .object({
            host: z.string().describe('Host name'),
            port: z.number().int().describe('Port'),
            caFile: optionalFile('CA file'),
            certFile: optionalFile('Certificate file'),
            keyFile: optionalFile('Key file'),
            pfxFile: optionalFile('`.p12` file'),
            passphrase: z.string().optional().describe('`[redacted]` when set'),
            environment: z.enum(environments).optional().describe('The tuples’ environment'),
            timeoutMs: z.number().int().describe('Read timeout'),
          })
          .optional()
          .describe('A legacy binary feedback service polled (config apps only)'),
        webhook: z
          .object({
            url: z.string().describe('Where batches are POSTed (a password in it shown as `[redacted]`)'),
            secret: z.string().optional().describe('`[redacted]` when set'),
            secretEnv: z.string().optional().describe('The variable holding the HMAC key'),
            batchSize: z.number().int().describe('Feed items per POST'),
            maxAttempts: z.number().int().describe('Tries per batch'),
            backoffMs: z.number().int().describe('Retry delay base'),
            timeoutMs: z.number().int().describe('Per-POST timeout'),
          })
          .optional()
          .describe('Signed POSTs of the feedback feed'),
      })
      .optional()
      .describe('Feedback extras'),
  })
  .meta({
    id: 'AppSettings',
    description: 'An app’s effective settings, defaults filled in, secrets redacted',
  });

export const appViewSchema = z
  .object({
    id: z.string().describe('The app id'),
    source: z
      .enum(['config', 'registry'])
      .describe('`config`: declared in the config file (read-only here); `registry`: added through this API'),
    state: z
      .enum(['active', 'disabled'])
      .describe('`disabled`: new notifications are refused; queued work is delivered'),
    revision: z
      .string()
      .describe('Changes with every change of settings or credentials (`config` for config apps)'),
    createdAt: iso('When it was added (null for config apps)'),
    updatedAt: iso('When it last changed (null for config apps)'),
    settings: appSettingsView,
    credentials: credentialInfoView
      .nullable()
      .describe('Its credentials’ public info; null for a config app whose files this api cannot read'),
    expiry: z
      .object(
        Object.fromEntries(
          environments.map((environment) => [
            environment,
            z.iso
              .datetime()
              .nullable()
              .optional()
              .describe(`When the credentials stop working in ${environment} (null: a .p8 key, no expiry)`),
          ]),
        ) as Record<(typeof environments)[number], z.ZodOptional<z.ZodNullable<z.ZodISODateTime>>>,
      )
      .describe(
        'Per environment of the app: when its credentials expire (a certificate’s `notAfter`; null for a ' +
          '`.p8` key). An environment the certificate does not cover is left out. Empty while unknown.',
      ),
  })
  .meta({
    id: 'App',
    example: {
      id: 'news',
      source: 'registry',
      state: 'active',
      revision: '7',
      createdAt: '2026-05-01T09:30:00.000Z',
      updatedAt: '2026-05-01T09:30:00.000Z',
      settings: {
        bundleId: 'com.example.news',
        environments: ['production', 'sandbox'],
        connections: { min: 0, max: 4, idleCloseMs: 300000, shrinkAfterMs: 30000 },
        rateLimitPerSecond: 2000,
      },
      credentials: {
        type: 'token',
        keyId: 'ABC123DEFG',
        teamId: 'DEF123GHIJ',
        fingerprint: '3A:…:9F',
        notAfter: null,
      },
      expiry: { production: null, sandbox: null },
    },
  });

export const appWriteSchema = z
  .object({
    app: appViewSchema,
    warnings: z
      .array(z.string())
      .describe('Things about the credentials worth knowing that did not stop them (expiring soon, …)'),
  })
  .meta({ id: 'AppWrite' });

export const appListSchema = z
  .object({
    items: z.array(appViewSchema).describe('Apps the key may see, config and registry, by id'),
    next: z.string().nullable().describe('Pass as `after` for the next page; null on the last page'),
  })
  .meta({ id: 'AppList' });

export const appListQuery = z.object({
  after: z
    .string()
    .max(63, 'after is an app id')
    .optional()
    .describe('Continue after this app id (`next` of the previous page)')
    .meta({ example: 'news' }),
  limit: z.coerce
    .number()
    .int('limit is 1–1000')
    .min(1, 'limit is 1–1000')
    .max(1000, 'limit is 1–1000')
    .default(1000)
    .describe('Apps per page, 1–1000 (default 1000)'),
});

// Compile-time: the answer's schema is the store's view, field for field (`connections` is a union
// of two identical object types in the config's schema, which strict identity cannot compare).
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <_ extends true>() => undefined;
type View = Omit<z.output<typeof appViewSchema>, 'expiry'>;
type Settings = View['settings'];
same<Same<keyof View, keyof AppView>>();
same<Same<keyof Settings, keyof AppView['settings']>>();
same<Same<View['credentials'], AppView['credentials']>>();
same<Same<Settings['feedback'], AppView['settings']['feedback']>>();
// Mutual: the config may grow optional endpoint fields before this file documents them.
same<Mutual<Settings['endpoint'], AppView['settings']['endpoint']>>();
same<Mutual<View, AppView>>();
