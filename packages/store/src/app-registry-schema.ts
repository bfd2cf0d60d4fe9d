import { type AppConfig, appConfigSchema, type CredentialMaterial, configSchema } from '@pushfleet/config';
import { type Environment, environments, PushfleetError } from '@pushfleet/core';
import { z } from 'zod';
import type { Envelope } from './envelope.ts';

/** App ids: the same rule as the config file's `apps` keys (lower-case `[a-z0-9-]`, ≤ 63). */
export const registryAppIdSchema = configSchema.shape.apps.keyType;

const legacyOnlyInConfig = (
  settings: { feedback?: { legacyEndpoint?: unknown } | undefined },
  ctx: z.RefinementCtx,
) => {
  if (settings.feedback?.legacyEndpoint !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['feedback', 'legacyEndpoint'],
      message: 'legacy feedback endpoints (certificate files) are set in the config file only',
    });
  }
};

const settingsBase = appConfigSchema.omit({ credentials: true });

/**
 * An app's settings in the registry: exactly the config file's app schema without `credentials`
 * (those are uploaded, sealed and stored apart). `feedback.webhook.secret` is stored sealed too.
 */
export const registryAppSettingsSchema = settingsBase.superRefine(legacyOnlyInConfig);
export type RegistryAppSettings = z.input<typeof registryAppSettingsSchema>;

/**
 * Credentials as uploaded (the config's forms, inline instead of files): a `.p8` key with its
 * ids; a `.p12` bundle (base64) with its passphrase; or a PEM certificate (chain) and key, with
 * the key's passphrase if it is encrypted.
 */
export const credentialUploadSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('token'),
      /** The `.p8` file's text (PKCS#8 PEM). */
      keyPem: z.string().min(1).max(16_384),
      keyId: z.string().min(1).max(64),
      teamId: z.string().min(1).max(64),
    })
    .strict(),
  z
    .object({
      type: z.literal('certificate'),
      /** The `.p12`/`.pfx` file, base64. */
      pfx: z
        .string()
        .max(262_144)
        .regex(/^[A-Za-z0-9+/=\s]+$/, 'pfx must be the .p12 file in base64')
        .optional(),
      certPem: z.string().min(1).max(131_072).optional(),
      keyPem: z.string().min(1).max(65_536).optional(),
      passphrase: z.string().max(1024).optional(),
    })
    .strict()
    .refine((c) => (c.pfx !== undefined) !== (c.certPem !== undefined || c.keyPem !== undefined), {
      message: 'certificate credentials need pfx, or certPem and keyPem',
    })
    .refine((c) => c.pfx !== undefined || (c.certPem !== undefined && c.keyPem !== undefined), {
      message: 'certificate credentials need pfx, or certPem and keyPem',
    }),
]);
export type CredentialUpload = z.input<typeof credentialUploadSchema>;

/** The body of `PUT /v1/apps/:app`: the settings, and credentials (required to create). */
export const appPutBodySchema = settingsBase
  .extend({ credentials: credentialUploadSchema.optional() })
  .superRefine(legacyOnlyInConfig);
export type AppPutBody = z.input<typeof appPutBodySchema>;

/** An upload as the material `checkCredentials` (packages/apns) and the transport take. */
export function materialFromUpload(upload: z.output<typeof credentialUploadSchema>): CredentialMaterial {
  if (upload.type === 'token') return upload;
  return {
    type: 'certificate',
    ...(upload.pfx !== undefined && { pfx: Buffer.from(upload.pfx.replace(/\s+/g, ''), 'base64') }),
    ...(upload.certPem !== undefined && { certPem: upload.certPem }),
    ...(upload.keyPem !== undefined && { keyPem: upload.keyPem }),
    ...(upload.passphrase !== undefined && { passphrase: upload.passphrase }),
  };
}

/** The public part of stored credentials (what `checkCredentials` in packages/apns reports). */
export const credentialInfoSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('token'),
    keyId: z.string(),
    teamId: z.string(),
    fingerprint: z.string(),
    notAfter: z.null(),
  }),
  z.object({
    type: z.literal('certificate'),
    fingerprint: z.string(),
    subject: z.string(),
    issuer: z.string(),
    serialNumber: z.string(),
    topics: z.array(z.string()),
    environments: z.array(z.enum(environments)),
    notBefore: z.string(),
    notAfter: z.string(),
  }),
]);
export type CredentialInfo = z.output<typeof credentialInfoSchema>;

/**
 * Checks uploaded material before it is stored: `checkCredentials` of packages/apns, passed in
 * by the app that writes the registry (the store does not load the transport).
 */
export type CredentialChecker = (
  material: CredentialMaterial,
  options: { bundleId: string; environments: readonly Environment[]; now: number },
) =>
  | { ok: true; material: CredentialMaterial; info: CredentialInfo; warnings: string[] }
  | { ok: false; problem: string; field: string; message: string };

/**
 * One registry app as stored in `registryKeys.apps` (JSON). No key material: credentials are
 * in `registryKeys.secrets`, the webhook secret sealed in `webhookSecret`.
 */
export interface RegistryRecord {
  /** The registry version of the last change of settings or credentials (state changes keep it). */
  revision: string;
  id: string;
  /** As given to `put` (validated), without `feedback.webhook.secret`. */
  settings: RegistryAppSettings;
  state: 'active' | 'disabled';
  credentials: CredentialInfo;
  webhookSecret?: Envelope;
  createdAt: number;
  updatedAt: number;
}

/** Effective settings as shown by the API: the config's app shape, secrets as `[redacted]`. */
export type AppSettingsView = Omit<AppConfig, 'credentials'>;

/** An app as the admin API shows it (`GET /v1/apps/:app`, `GET /v1/apps`): never a secret. */
export interface AppView {
  id: string;
  source: 'config' | 'registry';
  state: 'active' | 'disabled';
  /** `config` for config apps. */
  revision: string;
  /** ISO 8601; null for config apps. */
  createdAt: string | null;
  updatedAt: string | null;
  settings: AppSettingsView;
  /** Null for a config app whose credential files this process cannot read. */
  credentials: CredentialInfo | null;
}

/** A page of `GET /v1/apps`: `next` is the id to list after for the next page, or null at the end. */
export interface AppPage {
  items: AppView[];
  next: string | null;
}

/** What a write answers: the app as it is now, and warnings about its credentials. */
export interface AppWriteResult {
  app: AppView;
  /** `PUT /v1/apps/:app` only: 201 when true. */
  created?: boolean;
  warnings: string[];
}

/** A stored record's settings as the config's app type; the secret restored (or a placeholder). */
export function effectiveSettings(
  record: RegistryRecord,
  webhookSecret: string | undefined,
): AppSettingsView {
  const settings = structuredClone(record.settings);
  const webhook = settings.feedback?.webhook;
  if (webhook && webhookSecret !== undefined) webhook.secret = webhookSecret;
  const parsed = registryAppSettingsSchema.safeParse(settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PushfleetError(
      'PF_ERR_INTERNAL',
      `stored app ${record.id} is invalid: ${issue.path.join('.')} ${issue.message}`,
    );
  }
  return parsed.data;
}

/**
 * The `credentials` of a registry app's `AppEntry.config`: the type and ids, no files (the
 * material comes from `AppDirectory.credentials`, never from `readConfigCredentials`).
 */
export function credentialDescriptor(info: CredentialInfo): AppConfig['credentials'] {
  return info.type === 'token'
    ? { type: 'token', keyFile: '', keyId: info.keyId, teamId: info.teamId }
    : { type: 'certificate' };
}

const redacted = '[redacted]';

/** Settings with every secret replaced and URL passwords hidden, for the API. */
export function redactSettings(settings: AppSettingsView): AppSettingsView {
  const out = structuredClone(settings);
  const webhook = out.feedback?.webhook;
  if (webhook) {
    if (webhook.secret !== undefined) webhook.secret = redacted;
    webhook.url = webhook.url.replace(/\/\/([^@/]*)@/, `//${redacted}@`);
  }
  const legacy = out.feedback?.legacyEndpoint;
  if (legacy?.passphrase !== undefined) legacy.passphrase = redacted;
  return out;
}
