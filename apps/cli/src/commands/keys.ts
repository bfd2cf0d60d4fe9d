import { createHash, randomBytes, scrypt } from 'node:crypto';
import { parseArgs, promisify } from 'node:util';
import { createOutput } from './output.ts';
import { UsageError } from './shared.ts';

const scryptAsync = promisify(scrypt) as (key: string, salt: Buffer, length: number) => Promise<Buffer>;

/** The api's `sha256:<hex>` form (apps/api/src/auth.ts verifies it; a test checks they agree). */
export const hashApiKeySha256 = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;

export const hashApiKeyScrypt = async (key: string, salt: Buffer) =>
  `scrypt:${salt.toString('hex')}:${(await scryptAsync(key, salt, 32)).toString('hex')}`;

/**
 * `keys hash`: makes (or takes) an API key and prints the config entry holding only its hash.
 * The key itself is shown once and stored nowhere.
 */
export async function keysCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'hash')
    throw new UsageError('keys hash [--key K] [--scrypt] [--id ID] [--apps a,b] [--permissions send,read]');
  const { values } = parseArgs({
    args: rest,
    options: {
      key: { type: 'string' },
      scrypt: { type: 'boolean', default: false },
      id: { type: 'string', default: 'producer' },
      apps: { type: 'string', default: '*' },
      permissions: { type: 'string', default: 'send,read' },
      json: { type: 'boolean', default: false },
    },
  });
  const generated = values.key === undefined;
  const key = values.key ?? `pf_${randomBytes(32).toString('base64url')}`;
  const hash = values.scrypt ? await hashApiKeyScrypt(key, randomBytes(16)) : hashApiKeySha256(key);
  const entry = {
    id: values.id,
    hash,
    apps: values.apps.split(',').filter(Boolean),
    permissions: values.permissions.split(',').filter(Boolean),
  };
  createOutput(values.json).result(
    `${generated ? `API key (shown once, give it to the producer): ${key}\n` : ''}` +
      `config entry (api.keys):\n  - ${JSON.stringify(entry)}`,
    { ...(generated ? { key } : {}), entry },
  );
  return 0;
}
