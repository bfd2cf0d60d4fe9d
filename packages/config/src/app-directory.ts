import { readFileSync } from 'node:fs';
import type { AppConfig, Config } from './schema.ts';

/**
 * The key material of an app's credentials, in memory only (never logged, never returned by the
 * API): a `.p8` signing key with its ids, or a certificate (PEM pair or a `.p12` bundle).
 */
export type CredentialMaterial =
  | { type: 'token'; keyPem: string; keyId: string; teamId: string }
  | { type: 'certificate'; certPem?: string; keyPem?: string; pfx?: Buffer; passphrase?: string };

/** Where an app is declared: the config file (read-only at run time) or the registry in Redis. */
export type AppSource = 'config' | 'registry';

/** An app as every process sees it: its settings, where they come from, and whether it may send. */
export interface AppEntry {
  id: string;
  config: AppConfig;
  source: AppSource;
  /** `disabled`: new work is refused (409); work already queued is still delivered. */
  state: 'active' | 'disabled';
  /** Changes whenever the app's settings or credentials change (pools are replaced on a change). */
  revision: string;
}

/**
 * The apps a process serves, as they are now. Config apps are always there; apps added through
 * the admin API come and go at run time, and every process sees a change within seconds
 * (`onChange`). Lookups are in memory: no Redis round trip per request or job.
 */
export interface AppDirectory {
  get(app: string): AppEntry | undefined;
  ids(): string[];
  /**
   * The app's credential material (read from the files a config app names, or decrypted from the
   * registry). Rejects with a short, safe error (never key bytes) when it cannot be had.
   */
  credentials(app: string): Promise<CredentialMaterial>;
  /** Subscribes to changes (ids of apps added, changed, disabled or deleted); returns an unsubscribe. */
  onChange(listener: (changed: string[]) => void): () => void;
  close(): Promise<void>;
}

/** Reads a file the config names; on failure, a short text naming the config field and the error code. */
export function readSecretFile(field: string, path: string): string;
export function readSecretFile(field: string, path: string, binary: true): Buffer;
export function readSecretFile(field: string, path: string, binary?: true): string | Buffer {
  try {
    return binary ? readFileSync(path) : readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${field} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/** The credential material of a config app, read from the files its config names. */
export function readConfigCredentials(app: AppConfig): CredentialMaterial {
  const c = app.credentials;
  if (c.type === 'token') {
    return {
      type: 'token',
      keyPem: readSecretFile('credentials.keyFile', c.keyFile),
      keyId: c.keyId,
      teamId: c.teamId,
    };
  }
  return {
    type: 'certificate',
    ...(c.certFile && { certPem: readSecretFile('credentials.certFile', c.certFile) }),
    ...(c.keyFile && { keyPem: readSecretFile('credentials.keyFile', c.keyFile) }),
    ...(c.pfxFile && { pfx: readSecretFile('credentials.pfxFile', c.pfxFile, true) }),
    ...(c.passphrase && { passphrase: c.passphrase }),
  };
}

/** The directory of a process that only serves its config file's apps (no registry). */
export function configDirectory(config: Pick<Config, 'apps'>): AppDirectory {
  const entries = new Map(
    Object.entries(config.apps).map(([id, app]) => [
      id,
      { id, config: app, source: 'config' as const, state: 'active' as const, revision: 'config' },
    ]),
  );
  return {
    get: (app) => entries.get(app),
    ids: () => [...entries.keys()],
    credentials: async (app) => {
      const entry = entries.get(app);
      if (!entry) throw new Error(`unknown app ${app}`);
      return readConfigCredentials(entry.config);
    },
    onChange: () => () => undefined,
    close: async () => undefined,
  };
}
