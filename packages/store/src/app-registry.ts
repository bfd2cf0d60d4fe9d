import { type Config, type CredentialMaterial, readConfigCredentials } from '@pushfleet/config';
import { type Environment, PushfleetError, parseOrThrow } from '@pushfleet/core';
import type { Redis } from 'ioredis';
import {
  type AppPage,
  type AppView,
  type AppWriteResult,
  appPutBodySchema,
  type CredentialChecker,
  type CredentialInfo,
  credentialUploadSchema,
  effectiveSettings,
  materialFromUpload,
  type RegistryAppSettings,
  type RegistryRecord,
  redactSettings,
  registryAppIdSchema,
} from './app-registry-schema.ts';
import { type Envelope, sealEnvelope } from './envelope.ts';
import { checkKeyEncryptionKey } from './kek-check.ts';
import { registryKeys } from './registry-keys.ts';
import { runScript } from './scripts.ts';

/** What sealed credentials are bound to: one app's, nothing else's. */
export const credentialsAad = (app: string) => `registry/credentials/${app}`;
export const webhookSecretAad = (app: string) => `registry/webhook-secret/${app}`;

/** Credential material as sealed in `registryKeys.secrets` (a `.p12` as base64). */
export type SealedMaterial =
  | Extract<CredentialMaterial, { type: 'token' }>
  | { type: 'certificate'; certPem?: string; keyPem?: string; pfx?: string; passphrase?: string };

export interface AppRegistryOptions {
  redis: Redis;
  prefix: string;
  /** The process's config: its apps are read-only here (and listed with the registry's). */
  config: Pick<Config, 'apps'>;
  /** The key-encryption key (`loadKeyEncryptionKey`); without it, storing credentials is refused. */
  kek?: Buffer | undefined;
  /** `checkCredentials` of packages/apns. */
  checkCredentials: CredentialChecker;
  now?: () => number;
}

/** The caller's answer to "does the app's queue still hold work?" (BullMQ's counts, not the store's). */
export type HasWork = (app: string) => Promise<boolean>;

const maxAttempts = 16;

/**
 * The apps added at run time, in Redis beside the config file's: create, update, rotate
 * credentials, disable, enable, delete. Config apps are read-only here. Every change bumps the
 * registry version and publishes the app's id on `registryKeys.changes` in the same script, so
 * every process's `AppDirectory` sees it within moments (or at its next version poll). Writes
 * are compare-and-set on the app's record: concurrent writers retry, none is lost.
 *
 * Errors are `PushfleetError`s for the API to send as they are: PF_ERR_VALIDATION (field),
 * PF_ERR_BAD_CREDENTIALS (field `credentials.<part>`), PF_ERR_APP_READ_ONLY,
 * PF_ERR_UNKNOWN_APP, PF_ERR_APP_HAS_WORK, PF_ERR_ENCRYPTION_KEY_MISSING, PF_ERR_CONFIG (a KEK
 * that is not the registry's).
 */
export class AppRegistry {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly config: Pick<Config, 'apps'>;
  private readonly kek: Buffer | undefined;
  private readonly check: CredentialChecker;
  private readonly now: () => number;
  private kekChecked: Promise<void> | undefined;
  private readonly configInfo = new Map<string, CredentialInfo | null>();

  constructor(options: AppRegistryOptions) {
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.config = options.config;
    this.kek = options.kek;
    this.check = options.checkCredentials;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates or replaces an app's settings (`PUT /v1/apps/:app`); `credentials` in the body are
   * checked and sealed, and required when the app is new. State and, without new credentials,
   * the stored credentials are kept.
   */
  async put(app: string, body: unknown): Promise<AppWriteResult> {
    this.assertWritable(app);
    const parsed = parseOrThrow(appPutBodySchema, body);
    const { credentials: upload, ...input } = body as Record<string, unknown>;
    const settings = structuredClone(input) as RegistryAppSettings;
    const secret = settings.feedback?.webhook?.secret;
    if (secret !== undefined) delete settings.feedback!.webhook!.secret;
    const checked =
      upload !== undefined ? this.checked(parsed.credentials!, parsed, 'credentials.') : undefined;
    const sealedSecret =
      secret !== undefined ? this.seal(Buffer.from(secret), webhookSecretAad(app)) : undefined;
    const sealedMaterial = checked ? this.sealMaterial(app, checked.material) : undefined;
    if (sealedSecret || sealedMaterial) await this.ensureKekCheck();
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(registryKeys.apps(this.prefix), app);
      const existing = raw ? (JSON.parse(raw) as RegistryRecord) : undefined;
      const info = checked?.info ?? existing?.credentials;
      if (!info) {
        throw new PushfleetError('PF_ERR_VALIDATION', 'a new app needs credentials', {
          field: 'credentials',
        });
      }
      if (!checked) assertCovers(info, parsed.bundleId);
      const now = this.now();
      const record: Omit<RegistryRecord, 'revision'> = {
        id: app,
        settings,
        state: existing?.state ?? 'active',
        credentials: info,
        ...(sealedSecret && { webhookSecret: sealedSecret }),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      const version = await this.write(app, raw ?? '', JSON.stringify(record), 'new', sealedMaterial);
      if (version < 0) continue;
      return {
        app: this.viewOf({ ...record, revision: String(version) }),
        created: !existing,
        warnings: checked?.warnings ?? [],
      };
    }
    throw conflict(app);
  }

  /** Replaces an app's credentials (`PUT /v1/apps/:app/credentials`): rotation, a new revision. */
  async putCredentials(app: string, body: unknown): Promise<AppWriteResult> {
    this.assertWritable(app);
    const upload = parseOrThrow(credentialUploadSchema, body);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(registryKeys.apps(this.prefix), app);
      if (!raw) throw unknownApp(app);
      const { revision: _revision, ...existing } = JSON.parse(raw) as RegistryRecord;
      const settings = effectiveSettings({ ...existing, revision: '' }, placeholderSecret(existing));
      const checked = this.checked(upload, settings, '');
      const sealed = this.sealMaterial(app, checked.material);
      await this.ensureKekCheck();
      const record = { ...existing, credentials: checked.info, updatedAt: this.now() };
      const version = await this.write(app, raw, JSON.stringify(record), 'new', sealed);
      if (version < 0) continue;
      return { app: this.viewOf({ ...record, revision: String(version) }), warnings: checked.warnings };
    }
    throw conflict(app);
  }

  /** New work for a disabled app is refused; work already queued is still delivered. */
  disable(app: string): Promise<AppView> {
    return this.setState(app, 'disabled');
  }

  enable(app: string): Promise<AppView> {
    return this.setState(app, 'active');
  }

  /**
   * Deletes a registry app and its sealed credentials. Refused (PF_ERR_APP_HAS_WORK) while
   * `hasWork` says its queue still holds jobs: disable it first, let it drain, then delete.
   * The app's other data (devices, records, feedback) stays in its own key space.
   */
  async delete(app: string, hasWork: HasWork): Promise<void> {
    this.assertWritable(app);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(registryKeys.apps(this.prefix), app);
      if (!raw) throw unknownApp(app);
      if (await hasWork(app)) {
        throw new PushfleetError(
          'PF_ERR_APP_HAS_WORK',
          `app ${app} still has queued work: disable it, and delete it once its queue is empty`,
        );
      }
      if ((await this.write(app, raw, '', 'keep', undefined)) >= 0) return;
    }
    throw conflict(app);
  }

  /** An app as the API shows it (config or registry), or undefined. */
  async get(app: string): Promise<AppView | undefined> {
    if (this.config.apps[app]) return this.configView(app);
    const raw = await this.redis.hget(registryKeys.apps(this.prefix), app);
    return raw ? this.viewOf(JSON.parse(raw) as RegistryRecord) : undefined;
  }

  /**
   * One page of apps by id, config and registry: those `visible` says the caller may see, after
   * `after`, at most `limit`. Reads the ids of every app but the records of this page only, so a
   * registry of 10,000 apps costs a page of 50 what a registry of 50 does, plus the ids.
   */
  async page(options: {
    after?: string | undefined;
    limit: number;
    visible(id: string): boolean;
  }): Promise<AppPage> {
    const { after, limit, visible } = options;
    const ids = new Set([
      ...Object.keys(this.config.apps),
      ...(await this.redis.hkeys(registryKeys.apps(this.prefix))),
    ]);
    // Code-unit order, the same as the ids' comparison with `after`.
    const matching = [...ids].filter((id) => visible(id) && (after === undefined || id > after)).sort();
    const pageIds = matching.slice(0, limit);
    const fromRegistry = pageIds.filter((id) => !this.config.apps[id]);
    const raws =
      fromRegistry.length > 0 ? await this.redis.hmget(registryKeys.apps(this.prefix), ...fromRegistry) : [];
    const records = new Map(fromRegistry.map((id, i) => [id, raws[i]]));
    const items: AppView[] = [];
    for (const id of pageIds) {
      if (this.config.apps[id]) items.push(this.configView(id));
      else {
        const raw = records.get(id);
        // Deleted between the two reads: not listed.
        if (raw) items.push(this.viewOf(JSON.parse(raw) as RegistryRecord));
      }
    }
    return { items, next: matching.length > limit ? (pageIds.at(-1) ?? null) : null };
  }

  private async setState(app: string, state: RegistryRecord['state']): Promise<AppView> {
    this.assertWritable(app);
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const raw = await this.redis.hget(registryKeys.apps(this.prefix), app);
      if (!raw) throw unknownApp(app);
      const existing = JSON.parse(raw) as RegistryRecord;
      if (existing.state === state) return this.viewOf(existing);
      const record = { ...existing, state, updatedAt: this.now() };
      if ((await this.write(app, raw, JSON.stringify(record), 'keep', undefined)) >= 0)
        return this.viewOf(record);
    }
    throw conflict(app);
  }

  private assertWritable(app: string): void {
    if (!registryAppIdSchema.safeParse(app).success) {
      throw new PushfleetError('PF_ERR_VALIDATION', 'app ids are lower-case [a-z0-9-], at most 63', {
        field: 'app',
      });
    }
    if (this.config.apps[app]) {
      throw new PushfleetError(
        'PF_ERR_APP_READ_ONLY',
        `app ${app} is declared in the config file; change it there`,
      );
    }
  }

  private checked(
    upload: Parameters<typeof materialFromUpload>[0],
    settings: { bundleId: string; environments: readonly Environment[] },
    fieldPrefix: string,
  ) {
    const result = this.check(materialFromUpload(upload), {
      bundleId: settings.bundleId,
      environments: settings.environments,
      now: this.now(),
    });
    if (!result.ok) {
      throw new PushfleetError('PF_ERR_BAD_CREDENTIALS', result.message, {
        field: `${fieldPrefix}${result.field}`,
      });
    }
    return result;
  }

  private requireKek(): Buffer {
    if (!this.kek) {
      throw new PushfleetError(
        'PF_ERR_ENCRYPTION_KEY_MISSING',
        'credentials and webhook secrets are only stored encrypted: set appRegistry.keyEncryptionKey on the api',
      );
    }
    return this.kek;
  }

  private seal(plaintext: Buffer, aad: string): Envelope {
    return sealEnvelope(this.requireKek(), plaintext, aad);
  }

  private sealMaterial(app: string, material: CredentialMaterial): string {
    const stored: SealedMaterial =
      material.type === 'token'
        ? material
        : {
            type: 'certificate',
            ...(material.certPem !== undefined && { certPem: material.certPem }),
            ...(material.keyPem !== undefined && { keyPem: material.keyPem }),
            ...(material.pfx !== undefined && { pfx: material.pfx.toString('base64') }),
            ...(material.passphrase !== undefined && { passphrase: material.passphrase }),
          };
    return JSON.stringify(this.seal(Buffer.from(JSON.stringify(stored)), credentialsAad(app)));
  }

  /** The KEK must be the registry's before anything is sealed with it (the first one becomes it). */
  private ensureKekCheck(): Promise<void> {
    this.kekChecked ??= checkKeyEncryptionKey(this.redis, this.prefix, this.requireKek()).catch((err) => {
      this.kekChecked = undefined;
      throw err;
    });
    return this.kekChecked;
  }

  private async write(
    app: string,
    expected: string,
    record: string,
    revision: 'new' | 'keep',
    sealed: string | undefined,
  ): Promise<number> {
    return Number(
      await runScript(
        this.redis,
        'registry-write',
        [
          registryKeys.apps(this.prefix),
          registryKeys.secrets(this.prefix),
          registryKeys.version(this.prefix),
        ],
        [
          registryKeys.changes(this.prefix),
          app,
          expected,
          record,
          revision,
          sealed ? 'set' : 'keep',
          sealed ?? '',
        ],
      ),
    );
  }

  private viewOf(record: RegistryRecord): AppView {
    return {
      id: record.id,
      source: 'registry',
      state: record.state,
      revision: record.revision,
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
      settings: redactSettings(effectiveSettings(record, placeholderSecret(record))),
      credentials: record.credentials,
    };
  }

  private configView(id: string): AppView {
    const app = this.config.apps[id]!;
    const { credentials: _files, ...settings } = app;
    if (!this.configInfo.has(id)) {
      let info: CredentialInfo | null = null;
      try {
        const result = this.check(readConfigCredentials(app), {
          bundleId: app.bundleId,
          environments: app.environments,
          now: this.now(),
        });
        if (result.ok) info = result.info;
      } catch {
        // Files this process cannot read (the api need not hold them): no info.
      }
      this.configInfo.set(id, info);
    }
    return {
      id,
      source: 'config',
      state: 'active',
      revision: 'config',
      createdAt: null,
      updatedAt: null,
      settings: redactSettings(settings),
      credentials: this.configInfo.get(id) ?? null,
    };
  }
}

/** A stand-in the schema accepts, for views that must not hold the real secret. */
function placeholderSecret(record: Pick<RegistryRecord, 'webhookSecret'>): string | undefined {
  return record.webhookSecret ? '[redacted]'.padEnd(16, '.') : undefined;
}

/** A certificate whose topics do not include the (new) bundle id cannot send for it. */
function assertCovers(info: CredentialInfo, bundleId: string): void {
  if (info.type === 'certificate' && info.topics.length > 0 && !info.topics.includes(bundleId)) {
    throw new PushfleetError(
      'PF_ERR_VALIDATION',
      `the app's certificate does not cover bundle id ${bundleId} (its topics: ${info.topics.join(', ')}); upload credentials for it`,
      { field: 'bundleId' },
    );
  }
}

function unknownApp(app: string): PushfleetError {
  return new PushfleetError('PF_ERR_UNKNOWN_APP', `no app ${app} in the registry`);
}

function conflict(app: string): PushfleetError {
  return new PushfleetError('PF_ERR_INTERNAL', `app ${app} kept changing while it was written; try again`);
}
