// Fixtures for the app registry tests: credentials made at run time (never committed), a config
// with one config-file app, a registry wired to packages/apns' checker, fresh prefixes.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCredentials } from '@pushfleet/apns';
import { type Config, configSchema } from '@pushfleet/config';
import { AppRegistry } from '@pushfleet/store';
import { generateProviderKey, type ProviderKey } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';

export { certificateUpload, p12Upload, pemBodyLines, tokenUpload } from '../../apps/api/tests/credentials.ts';

export const freshPrefix = () => `registry-${randomUUID().slice(0, 8)}`;
export const newKek = () => randomBytes(32);

/** A config with one config-file app (`shop`, a token key in a temp file). */
export function testConfig(): { config: Config; key: ProviderKey; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pf-registry-'));
  const key = generateProviderKey();
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem);
  const config = configSchema.parse({
    apps: {
      shop: {
        bundleId: 'com.example.shop',
        credentials: { type: 'token', keyFile, keyId: key.keyId, teamId: key.teamId },
        feedback: { webhook: { url: 'https://hooks.example.com/x', secret: 'config-webhook-secret-1' } },
      },
    },
  });
  return { config, key, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function newRegistry(
  redis: Redis,
  prefix: string,
  config: Pick<Config, 'apps'>,
  kek: Buffer | undefined,
) {
  return new AppRegistry({ redis, prefix, config, kek, checkCredentials });
}

/** Every key under the prefix with its value(s) as text, for "nothing secret at rest" checks. */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      if (type === 'string') out.push(key, (await redis.get(key)) ?? '');
      else if (type === 'hash') out.push(key, JSON.stringify(await redis.hgetall(key)));
      else out.push(key, `<${type}>`);
    }
  } while (cursor !== '0');
  return out.join('\n');
}
