import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';
import { batchDone, recordFields } from './ledger/fields.ts';

/**
 * Every Lua script of the store, one file each in ./lua (the production bundle ships them in
 * dist/lua), with its number of keys. They all run one way: ioredis `defineCommand`, i.e. EVALSHA
 * with a fallback to EVAL after a Redis restart, so the hot path never ships script text.
 */
export const scriptSpecs = {
  'record-step': 4,
  'begin-batch': 2,
  cancel: 1,
  'fanout-progress': 3,
  'fanout-finish': 4,
  'append-unique': 2,
  'idempotency-begin': 1,
  'idempotency-touch': 1,
  'idempotency-abandon': 1,
  'rate-reserve': 1,
  'pause-set': 1,
  'pause-expire': 1,
  'la-start-register': 3,
  'la-start-remove': 2,
  'la-token-register': 5,
  'la-token-end': 3,
  'delete-if-equal': 1,
  'channel-add': 2,
  'channel-remove': 2,
  'registry-write': 3,
  'activity-mark': 2,
  'activity-promote': 2,
  'activity-release': 2,
} as const satisfies Record<string, number>;

export type ScriptName = keyof typeof scriptSpecs;

const scriptsDir = new URL('./lua/', import.meta.url);

/**
 * Field names reach the scripts as the Lua table `F` (from `recordFields`), so a field is spelled
 * once, in TypeScript, for scripts and readers alike.
 */
export const luaPrelude = `local F = {${Object.entries(recordFields)
  .map(([name, field]) => `${name} = '${field}'`)
  .join(', ')}}\nlocal BATCH_DONE = '${batchDone}'\n`;

export function scriptSource(name: ScriptName): string {
  return luaPrelude + readFileSync(new URL(`${name}.lua`, scriptsDir), 'utf8');
}

const commandName = (name: ScriptName) => `pushfleet_${name.replaceAll('-', '_')}`;
const defined = new WeakSet<object>();

type Runner = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Defines every script on a client (once per client). Transactions created from the client
 * afterwards can stage them too.
 */
export function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  for (const name of Object.keys(scriptSpecs) as ScriptName[]) {
    redis.defineCommand(commandName(name), { numberOfKeys: scriptSpecs[name], lua: scriptSource(name) });
  }
  defined.add(redis);
}

export function runScript(
  redis: Redis,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  defineScripts(redis);
  return (redis as unknown as Record<string, Runner>)[commandName(name)]!(...keys, ...args);
}

/** Adds a script call to a transaction built from a client that `defineScripts` prepared. */
export function stageScript(
  tx: ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: (string | number)[],
): void {
  (tx as unknown as Record<string, (...a: (string | number)[]) => unknown>)[commandName(name)]!(
    ...keys,
    ...args,
  );
}
