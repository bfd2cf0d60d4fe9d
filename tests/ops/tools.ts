import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));

/** True when the ops tests must not skip (CI installs every tool through scripts/ops/install-tools.sh). */
const inCi = process.env.CI === 'true';

export interface Tool {
  path: string | undefined;
  /** Why the tool is missing: pass to `test(name, { skip })`. False when it is there. */
  skip: string | false;
}

function onPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

function locate(name: string, envVar: string, candidates: string[]): Tool {
  const path = [process.env[envVar], ...candidates.map((c) => join(root, c))].find(
    (p): p is string => p !== undefined && existsSync(p),
  );
  const resolved = path ?? onPath(name);
  if (resolved) return { path: resolved, skip: false };
  const reason = `${name} not installed: run scripts/ops/install-tools.sh (or set ${envVar})`;
  if (inCi) throw new Error(`${reason}; .ci/run must install it`);
  return { path: undefined, skip: reason };
}

export const helm = locate('helm', 'HELM_BIN', ['.tools/helm']);
export const promtool = locate('promtool', 'PROMTOOL_BIN', ['.tools/prom/usr/bin/promtool']);

/** Runs a tool; returns stdout, throws with stderr on a non-zero exit. */
export function run(bin: string, args: string[], input?: string): string {
  try {
    return execFileSync(bin, args, {
      cwd: root,
      encoding: 'utf8',
      input,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}

/** Golden files: compare, or rewrite them with UPDATE_GOLDEN=1. */
export const updateGolden = process.env.UPDATE_GOLDEN === '1';
