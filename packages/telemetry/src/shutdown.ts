import type { Logger } from 'pino';

export interface Closable {
  name: string;
  close(): Promise<void>;
}

/**
 * Wires SIGTERM/SIGINT to closing each part in order. Every close runs even if one fails; past
 * the deadline the process exits 1 so an orchestrator never waits on a hung drain. `parts` may be
 * a promise of them: wired before a slow start-up ends, a signal during it waits for the start to
 * end and then closes what started, instead of killing the process with jobs half sent.
 */
export function onShutdownSignal(
  parts: Closable[] | Promise<Closable[]>,
  log: Logger,
  deadlineMs: number,
): void {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    log.info({ signal, deadlineMs }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    let failed = false;
    // A start that failed exits on its own; nothing of it is left to close here.
    for (const part of await Promise.resolve(parts).catch(() => [])) {
      try {
        await part.close();
      } catch (err) {
        failed = true;
        log.error({ err, part: part.name }, 'close failed');
      }
    }
    log.info('stopped');
    process.exit(failed ? 1 : 0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

/** For an app's main(): a config or start-up error exits non-zero with one clear line. */
export function exitOnStartupError(appName: string, err: unknown): never {
  const error = err as { code?: string; field?: string; message?: string };
  const detail = error.field ? ` (field: ${error.field})` : '';
  process.stderr.write(`${appName}: ${error.code ?? 'error'}: ${error.message ?? String(err)}${detail}\n`);
  process.exit(1);
}
