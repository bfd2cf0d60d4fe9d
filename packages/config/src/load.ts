import { readFileSync } from 'node:fs';
import { PushfleetError } from '@pushfleet/core';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.ts';

const envPrefix = 'PUSHFLEET_';

/** SCREAMING_SNAKE → camelCase: `BODY_LIMIT_BYTES` → `bodyLimitBytes`. */
function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function parseScalar(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * `PUSHFLEET_API__PORT=9000` sets `api.port`; `__` separates levels, `_` separates words.
 * Values are JSON when they parse as JSON (numbers, booleans, arrays), strings otherwise.
 * `PUSHFLEET_CONFIG` itself names the file and is not an override.
 */
export function applyEnvOverrides(
  base: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const result = structuredClone(base);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || name === `${envPrefix}CONFIG` || raw === undefined) continue;
    const path = name.slice(envPrefix.length).split('__').map(camel);
    let node: Record<string, unknown> = result;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path.at(-1)!] = parseScalar(raw);
  }
  return result;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new PushfleetError('PF_ERR_CONFIG', `cannot read config file ${path}`, { cause });
  }
  const parsed: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  if (typeof parsed !== 'object' || parsed === null) {
    throw new PushfleetError('PF_ERR_CONFIG', `config file ${path} must hold an object`);
  }
  return parsed as Record<string, unknown>;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Parses the effective config once; throws PF_ERR_CONFIG naming the first bad field. */
export function loadConfig(env: NodeJS.ProcessEnv): Readonly<Config> {
  const file = env.PUSHFLEET_CONFIG;
  const base = file ? readConfigFile(file) : {};
  const result = configSchema.safeParse(applyEnvOverrides(base, env));
  if (!result.success) {
    const first = result.error.issues[0];
    throw new PushfleetError('PF_ERR_CONFIG', `invalid config: ${formatIssues(result.error)}`, {
      field: first?.path.join('.'),
    });
  }
  return Object.freeze(result.data);
}

const secretKeys = new Set(['passphrase', 'secret', 'password', 'sentinelPassword']);

/** A copy safe to print: passphrases, webhook secrets, Redis passwords and URLs' passwords masked. */
export function redactConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (secretKeys.has(key) && typeof value === 'string') return '[redacted]';
      if (key === 'url' && typeof value === 'string') return value.replace(/\/\/([^@/]*)@/, '//[redacted]@');
      return value;
    }),
  );
}
