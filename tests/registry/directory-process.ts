// A process that only watches the registry, as the api, worker and scheduler do: it opens a
// Redis-backed AppDirectory and prints one JSON line when ready and one per change, with each
// changed app's state, revision and a digest of the credentials it decrypted (never the material).
// Env: PF_TEST_REDIS_URL, PF_TEST_PREFIX, PF_TEST_KEK (hex, optional). Exits when stdin closes.
import { createHash } from 'node:crypto';
import { configSchema } from '@pushfleet/config';
import { createRedis } from '@pushfleet/queue';
import { openAppDirectory } from '@pushfleet/store';

const env = process.env;
const redis = createRedis(env.PF_TEST_REDIS_URL!, 'worker');
await redis.connect();
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);
try {
  const directory = await openAppDirectory({
    redis,
    prefix: env.PF_TEST_PREFIX!,
    config: configSchema.parse({ apps: {} }),
    kek: env.PF_TEST_KEK ? Buffer.from(env.PF_TEST_KEK, 'hex') : undefined,
  });
  directory.onChange(async (changed) => {
    const apps = await Promise.all(
      changed.map(async (id) => {
        const entry = directory.get(id);
        if (!entry) return { id, gone: true };
        const material = await directory.credentials(id);
        const pem = material.type === 'token' ? material.keyPem : (material.certPem ?? '');
        return {
          id,
          state: entry.state,
          revision: entry.revision,
          bundleId: entry.config.bundleId,
          credentials: material.type,
          digest: createHash('sha256').update(pem).digest('hex').slice(0, 16),
        };
      }),
    );
    print({ changed, apps });
  });
  print({ ready: true, ids: directory.ids() });
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await directory.close();
    redis.disconnect();
  });
} catch (err) {
  print({
    error: (err as { code?: string }).code ?? 'error',
    message: (err as Error).message,
    field: (err as { field?: string }).field,
  });
  redis.disconnect();
  process.exitCode = 1;
}
