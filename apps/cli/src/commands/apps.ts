import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { App, AppSettingsInput, AppWriteResult, CredentialUpload, Environment } from '@pushfleet/client';
import { createOutput, type Output } from './output.ts';
import { clientFrom, UsageError } from './shared.ts';

export const appsUsage = `apps list [--api-key K]                    apps show APP
  apps add APP --bundle-id B [--environments production,sandbox] [--settings JSON] [credentials]
  apps rotate APP credentials                apps disable|enable|delete APP
       credentials: --p8 FILE --key-id K --team-id T | --p12 FILE [--passphrase-env VAR]
                    | --cert FILE --key FILE [--passphrase-env VAR]   (passphrases only from the environment)`;

// `--key` is the certificate's key file here (as in `--cert/--key`): the API key comes from
// PF_API_KEY or `--api-key`.
const appOptions = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  'bundle-id': { type: 'string' },
  environments: { type: 'string' },
  settings: { type: 'string' },
  p8: { type: 'string' },
  'key-id': { type: 'string' },
  'team-id': { type: 'string' },
  p12: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'passphrase-env': { type: 'string' },
} as const;

type Values = { [K in keyof typeof appOptions]?: string | boolean | undefined };

const text = (values: Values, name: keyof Values) => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

function readFile(flag: string, path: string, encoding?: 'base64'): string {
  try {
    return readFileSync(path).toString(encoding ?? 'utf8');
  } catch (err) {
    throw new UsageError(
      `--${flag} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/**
 * Credentials from files: `.p8` + ids, a `.p12`, or a PEM pair. The passphrase is read from the
 * variable `--passphrase-env` names, never from the command line (other users can read that).
 */
export function credentialsFromFlags(values: Values, env: NodeJS.ProcessEnv): CredentialUpload | undefined {
  const p8 = text(values, 'p8');
  const p12 = text(values, 'p12');
  const cert = text(values, 'cert');
  const keyFile = text(values, 'key');
  const forms = [p8, p12, cert ?? keyFile].filter((f) => f !== undefined).length;
  if (forms === 0) return undefined;
  if (forms > 1) throw new UsageError('give one of --p8, --p12 or --cert/--key');
  const passphraseEnv = text(values, 'passphrase-env');
  let passphrase: string | undefined;
  if (passphraseEnv !== undefined) {
    passphrase = env[passphraseEnv];
    if (passphrase === undefined) throw new UsageError(`--passphrase-env: ${passphraseEnv} is not set`);
  }
  if (p8 !== undefined) {
    const keyId = text(values, 'key-id');
    const teamId = text(values, 'team-id');
    if (!keyId || !teamId) throw new UsageError('--p8 needs --key-id and --team-id');
    return { type: 'token', keyPem: readFile('p8', p8), keyId, teamId };
  }
  if (p12 !== undefined) {
    return {
      type: 'certificate',
      pfx: readFile('p12', p12, 'base64'),
      ...(passphrase !== undefined && { passphrase }),
    };
  }
  if (!cert || !keyFile) throw new UsageError('--cert and --key go together');
  return {
    type: 'certificate',
    certPem: readFile('cert', cert),
    keyPem: readFile('key', keyFile),
    ...(passphrase !== undefined && { passphrase }),
  };
}

function settingsFromFlags(values: Values): AppSettingsInput {
  const json = text(values, 'settings');
  let settings: Partial<AppSettingsInput> = {};
  if (json !== undefined) {
    try {
      settings = JSON.parse(json) as Partial<AppSettingsInput>;
    } catch {
      throw new UsageError(
        '--settings must be JSON (the fields of apps.<id> in the config, without credentials)',
      );
    }
  }
  const bundleId = text(values, 'bundle-id') ?? settings.bundleId;
  if (!bundleId) throw new UsageError('--bundle-id is required');
  const environments = text(values, 'environments');
  return {
    ...settings,
    bundleId,
    ...(environments !== undefined && {
      environments: environments.split(',').filter(Boolean) as Environment[],
    }),
  };
}

/** One line per credential: what it is and when it expires. */
function credentialLine(app: App): string {
  const c = app.credentials;
  if (!c) return 'credentials: (not readable by the api)';
  if (c.type === 'token')
    return `credentials: token key ${c.keyId}, team ${c.teamId}, fingerprint ${c.fingerprint}`;
  const days = Math.floor((Date.parse(c.notAfter) - Date.now()) / 86_400_000);
  return (
    `credentials: certificate ${c.subject}\n  topics ${c.topics.join(', ')}; environments ${c.environments.join(', ')}\n` +
    `  expires ${c.notAfter} (${days < 0 ? 'EXPIRED' : `in ${days} days`}); fingerprint ${c.fingerprint}`
  );
}

function describe(app: App): string {
  const s = app.settings;
  return [
    `${app.id} (${app.source}, ${app.state}, revision ${app.revision})`,
    `bundle id ${s.bundleId}; environments ${s.environments.join(', ')}`,
    credentialLine(app),
    `expiry: ${
      s.environments
        .map((e) => `${e} ${e in app.expiry ? (app.expiry[e]?.slice(0, 10) ?? 'never') : 'not covered'}`)
        .join(', ') || '?'
    }`,
  ].join('\n');
}

function expiry(app: App): string {
  const c = app.credentials;
  return c?.type === 'certificate' ? c.notAfter.slice(0, 10) : c ? 'never' : '?';
}

function written(out: Output, verb: string, result: AppWriteResult): void {
  const warnings = result.warnings.map((w) => `\nwarning: ${w}`).join('');
  out.result(`${verb} ${describe(result.app)}${warnings}`, result);
}

/** `pushfleet apps …`: the admin API (an API key with the `admin` permission, PF_API_KEY). */
export async function appsCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: appOptions });
  const out = createOutput(values.json === true);
  const apiKey = text(values, 'api-key');
  const client = clientFrom({ url: text(values, 'url'), key: apiKey }, env);
  const app = positionals[0];
  const needApp = () => {
    if (!app) throw new UsageError(`apps ${sub} APP`);
    return app;
  };
  switch (sub) {
    case 'list': {
      const apps = await client.apps.list();
      const rows = apps.map(
        (a) =>
          `${a.id.padEnd(24)} ${a.source.padEnd(9)} ${a.state.padEnd(9)} ${(a.credentials?.type ?? '?').padEnd(12)} ${expiry(a)}`,
      );
      out.result([`${'APP'.padEnd(24)} SOURCE    STATE     CREDENTIALS  EXPIRES`, ...rows].join('\n'), apps);
      return 0;
    }
    case 'show': {
      const found = await client.apps.get(needApp());
      out.result(describe(found), found);
      return 0;
    }
    case 'add': {
      const credentials = credentialsFromFlags(values, env);
      const result = await client.apps.put(needApp(), {
        ...settingsFromFlags(values),
        ...(credentials && { credentials }),
      });
      written(out, 'saved', result);
      return 0;
    }
    case 'rotate': {
      const credentials = credentialsFromFlags(values, env);
      if (!credentials) throw new UsageError('apps rotate APP needs --p8, --p12 or --cert/--key');
      written(out, 'rotated', await client.apps.putCredentials(needApp(), credentials));
      return 0;
    }
    case 'disable':
    case 'enable': {
      const result = await client.apps[sub](needApp());
      out.result(`${result.id} is ${result.state}`, result);
      return 0;
    }
    case 'delete':
      await client.apps.delete(needApp());
      out.result(`deleted ${needApp()}`, { id: app, deleted: true });
      return 0;
    default:
      throw new UsageError(appsUsage);
  }
}
