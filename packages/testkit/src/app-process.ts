import { type ChildProcess, spawn } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export type AppName = 'api' | 'worker' | 'scheduler';

export interface AppProcess {
  name: AppName;
  process: ChildProcess;
  /** Last lines of its stderr (JSON logs), for failure messages. */
  recentLogs(): string;
  /** Every stderr line so far that is not a JSON object (a process must log JSON only). */
  nonJsonLines(): string[];
  /** SIGTERM, then wait for exit (bounded); resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
}

/**
 * The parent's environment minus PUSHFLEET_* variables: those are config overrides, and an app
 * under test must get only the config its test gives it.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PUSHFLEET_')));
}

export interface SpawnOptions {
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Run the esbuild bundle in dist/ (as production does) instead of the TypeScript sources via tsx. */
  compiled?: boolean;
}

/** Runs one of the fleet's apps as a real process, as in production, with the given environment. */
export function spawnApp(name: AppName, env: Record<string, string>, options: SpawnOptions = {}): AppProcess {
  // Through the image's entrypoint, which execs node with the same flags as in production.
  const child = spawn('sh', [join(repoRoot, 'scripts', 'ops', 'entrypoint.sh'), name], {
    cwd: repoRoot,
    env: {
      ...inheritedEnv(),
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      ...env,
      PUSHFLEET_ENTRYPOINT_RUNTIME: options.compiled ? 'dist' : 'source',
      ...(options.nodeArgs && { PUSHFLEET_ENTRYPOINT_NODE_ARGS: options.nodeArgs.join(' ') }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: string[] = [];
  const nonJson: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts.filter(Boolean)) {
      lines.push(line);
      try {
        if (typeof JSON.parse(line) !== 'object') nonJson.push(line);
      } catch {
        if (nonJson.length < 100) nonJson.push(line);
      }
    }
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    process: child,
    recentLogs: () => lines.slice(-30).join('\n'),
    nonJsonLines: () => [...nonJson],
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
