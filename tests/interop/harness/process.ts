import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Daemons live in sbin, which a non-root PATH may lack. */
const extraDirs = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The absolute path of an executable on PATH (or in an sbin directory), if installed. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Debian's python3-h2 and python3-hypercorn install for the system interpreter, which a pyenv
 * or venv `python3` earlier on PATH does not see: always use /usr/bin/python3.
 */
export const systemPython = '/usr/bin/python3';

export function pythonHas(module: string): boolean {
  return spawnSync(systemPython, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

const installHint = 'run bash scripts/interop/install.sh (or .ci/run)';

/** A node:test `skip` value: false when every requirement is there, else the reason. */
export function skipUnless(what: string, present: boolean): string | false {
  return present ? false : `${what} not installed: ${installHint}`;
}

export interface ServerProcess {
  readonly name: string;
  readonly port: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  port: number;
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go (a file in the server's work dir). */
  logFile: string;
  readyTimeoutMs?: number;
}

// Process groups still running, killed if the test process exits without stopping them.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals, evenIfExited = false): void {
  if (child.pid === undefined) return;
  if (!evenIfExited && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    // Negative pid: the whole group the server's own workers (Apache, h2o) belong to.
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts a server in its own process group and resolves once its port accepts TCP connections;
 * rejects with the server's output when it exits first or does not listen in time.
 */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const log = createWriteStream(options.logFile);
  await new Promise((resolve) => log.once('open', resolve));
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', log, log],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  const output = () => readFileSync(options.logFile, 'utf8');
  let stopping: Promise<void> | undefined;
  const server: ServerProcess = {
    name: options.name,
    port: options.port,
    output,
    stop() {
      stopping ??= (async () => {
        killGroup(child, 'SIGTERM');
        const killed = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
        if (!killed) {
          killGroup(child, 'SIGKILL');
          await exited;
        }
        // Workers that outlive their parent (same group) get the same treatment.
        killGroup(child, 'SIGKILL', true);
        log.close();
      })();
      return stopping;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await portAccepts(options.port)) return server;
    await sleep(50);
  }
  await server.stop();
  throw new Error(`${options.name} did not listen on 127.0.0.1:${options.port}:\n${output().slice(-3000)}`);
}
