import type { Redis } from 'ioredis';

type ScriptArg = string | number;
type ScriptRunner = (...args: ScriptArg[]) => Promise<unknown>;

/**
 * Runs a Lua script by SHA (ioredis `defineCommand`: EVALSHA, falling back to EVAL once after a
 * Redis restart), so the hot path does not ship the script text with every call.
 */
export function runScript(
  redis: Redis,
  name: string,
  lua: string,
  numberOfKeys: number,
  ...args: ScriptArg[]
) {
  const commands = redis as unknown as Record<string, ScriptRunner | undefined>;
  if (!commands[name]) redis.defineCommand(name, { lua, numberOfKeys });
  return (commands[name] as ScriptRunner)(...args);
}
