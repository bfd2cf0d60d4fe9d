import type { PushfleetClient } from './client.ts';
import type { Environment } from './types.ts';

/**
 * Credentials as uploaded: a `.p8` token key with its ids, or a certificate — a `.p12` (base64)
 * with its passphrase, or a PEM certificate (chain) and key. Sent once, stored sealed by the
 * server, never returned.
 */
export type CredentialUpload =
  | { type: 'token'; keyPem: string; keyId: string; teamId: string }
  | {
      type: 'certificate';
      pfx?: string | undefined;
      certPem?: string | undefined;
      keyPem?: string | undefined;
      passphrase?: string | undefined;
    };

/** An app's settings, as `PUT /v1/apps/:app` takes them (the config file's `apps.<id>` without files). */
export interface AppSettingsInput {
  bundleId: string;
  /** The first is the default; default `['production']`. */
  environments?: Environment[] | undefined;
  endpoint?: { host: string; port: number; caFile?: string | undefined } | undefined;
  connections?:
    | number
    | {
        min?: number | undefined;
        max?: number | undefined;
        idleCloseMs?: number | undefined;
        shrinkAfterMs?: number | undefined;
      }
    | undefined;
  rateLimitPerSecond?: number | undefined;
  feedback?:
    | {
        webhook?:
          | {
              url: string;
              secret?: string | undefined;
              secretEnv?: string | undefined;
              batchSize?: number | undefined;
              maxAttempts?: number | undefined;
              backoffMs?: number | undefined;
              timeoutMs?: number | undefined;
            }
          | undefined;
      }
    | undefined;
}

/** The public part of an app's credentials: never key material. */
export type CredentialInfo =
  | { type: 'token'; keyId: string; teamId: string; fingerprint: string; notAfter: null }
  | {
      type: 'certificate';
      fingerprint: string;
      subject: string;
      issuer: string;
      serialNumber: string;
      topics: string[];
      environments: Environment[];
      notBefore: string;
      /** When it expires (ISO 8601). */
      notAfter: string;
    };

/** An app as the admin API shows it (settings with defaults filled in, secrets `[redacted]`). */
export interface App {
  id: string;
  /** `config` apps are read-only here (changed in the config file only). */
  source: 'config' | 'registry';
  state: 'active' | 'disabled';
  revision: string;
  createdAt: string | null;
  updatedAt: string | null;
  settings: AppSettingsInput & {
    environments: Environment[];
    connections: { min: number; max: number; idleCloseMs: number; shrinkAfterMs: number };
  };
  /** Null for a config app whose credential files the api cannot read. */
  credentials: CredentialInfo | null;
  /** Per environment: when the credentials expire (a certificate's notAfter; null for a `.p8` key). */
  expiry: Partial<Record<Environment, string | null>>;
}

export interface AppWriteResult {
  app: App;
  /** About the credentials, not stopping them (e.g. a certificate expiring soon). */
  warnings: string[];
}

/**
 * The admin API (`client.apps`, an API key with the `admin` permission): apps and their
 * credentials, added, changed, rotated, disabled and deleted at run time. Every process serves a
 * change within seconds, without a restart.
 */
export class AppsApi {
  constructor(private readonly client: Pick<PushfleetClient, 'request'>) {}

  private path(app: string, rest = ''): string {
    return `/v1/apps/${encodeURIComponent(app)}${rest}`;
  }

  /** Every app the key may see (config and registry), by id: reads page after page. */
  async list(): Promise<App[]> {
    const apps: App[] = [];
    let after: string | undefined;
    do {
      const page = await this.client.request<{ items: App[]; next: string | null }>('GET', '/v1/apps', {
        query: { after },
      });
      apps.push(...page.items);
      after = page.next ?? undefined;
    } while (after !== undefined);
    return apps;
  }

  get(app: string): Promise<App> {
    return this.client.request('GET', this.path(app));
  }

  /**
   * Creates the app (`credentials` required) or replaces its settings (fields left out take
   * their defaults; without `credentials` the stored ones stay). State is kept.
   */
  put(app: string, settings: AppSettingsInput & { credentials?: CredentialUpload }): Promise<AppWriteResult> {
    return this.client.request('PUT', this.path(app), { json: settings });
  }

  /** Rotates the credentials: workers switch over without failing a send. */
  putCredentials(app: string, credentials: CredentialUpload): Promise<AppWriteResult> {
    return this.client.request('PUT', this.path(app, '/credentials'), { json: credentials });
  }

  /** New work is refused (PF_ERR_APP_DISABLED); work already queued is delivered. */
  disable(app: string): Promise<App> {
    return this.client.request('POST', this.path(app, '/disable'));
  }

  enable(app: string): Promise<App> {
    return this.client.request('POST', this.path(app, '/enable'));
  }

  /** Refused (PF_ERR_APP_HAS_WORK) while its queue holds work: disable, let it drain, then delete. */
  async delete(app: string): Promise<void> {
    await this.client.request('DELETE', this.path(app));
  }
}
