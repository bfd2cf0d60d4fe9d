import { parseArgs } from 'node:util';
import { type Config, loadConfig, redactConfig } from '@pushfleet/config';
import { appQueueRefs, connectRedis, createRedis } from '@pushfleet/queue';
import { Queue } from 'bullmq';
import { createOutput } from './output.ts';

const states = ['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

function configFrom(file: string | undefined, env: NodeJS.ProcessEnv): Readonly<Config> {
  return loadConfig(file ? { ...env, PUSHFLEET_CONFIG: file } : env);
}

/** `queues`: depth of every app's queues (`deliver`: batches and fan-outs; `express`: single sends), by state. */
export async function queuesCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const config = configFrom(values.config, env);
  const redis = createRedis(config.redis, 'producer');
  await connectRedis(redis);
  try {
    const refs = Object.keys(config.apps).flatMap((app) => appQueueRefs(config.redis.prefix, app));
    const rows: Record<string, Record<string, number>> = {};
    for (const ref of refs) {
      const queue = new Queue(ref.name, { connection: redis, prefix: ref.prefix });
      rows[ref.label] = await queue.getJobCounts(...states);
      await queue.close();
    }
    const header = ['queue'.padEnd(28), ...states.map((s) => s.padStart(11))].join('');
    const lines = Object.entries(rows).map(([name, counts]) =>
      [name.padEnd(28), ...states.map((s) => String(counts[s] ?? 0).padStart(11))].join(''),
    );
    createOutput(values.json).result([header, ...lines].join('\n'), rows);
    return 0;
  } finally {
    redis.disconnect();
  }
}

/** `config check [FILE]`: validates like the processes do and prints a redacted copy. */
export async function configCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  if (sub !== 'check') {
    process.stderr.write('usage: pushfleet config check [FILE]\n');
    return 2;
  }
  const out = createOutput(values.json);
  try {
    const config = configFrom(positionals[0], env);
    const redacted = redactConfig(config) as { api: { keys: { hash: string }[] } };
    // Key hashes are not secrets, but there is no reason to print them either.
    for (const key of redacted.api.keys) key.hash = `${key.hash.split(':')[0]}:[redacted]`;
    out.result(`config OK\n${JSON.stringify(redacted, null, 2)}`, { ok: true, config: redacted });
    return 0;
  } catch (err) {
    const e = err as Error & { field?: string };
    out.result(`config INVALID: ${e.message}`, { ok: false, error: e.message, field: e.field });
    return 1;
  }
}
