import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { Config } from '@pushfleet/config';
import { expressQueueName } from '@pushfleet/queue';
import type { Logger } from '@pushfleet/telemetry';
import { type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';
import { startLane } from './lane.ts';

/**
 * The express lane on a thread of its own. Jobs of one token (an app's `express` queue) run on an
 * event loop that no campaign batch shares: on one loop, another app's 200,000-token drain held
 * a single notification's p99 at 24–33 ms (its job waits for the turns the batches take); on a
 * loop of its own, 8–13 ms (BENCHMARKS.md "Fairness"). A thread and not a second process: one
 * pod, one ops port, one shutdown.
 */

type Metrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the main thread asks the express thread. */
type Request = { id: number; kind: 'attach' | 'metrics' | 'ready' | 'close' };
/** What the express thread answers (`started` once, unasked). */
type Reply =
  | { kind: 'started' }
  | { kind: 'start-failed'; error: { message: string; code?: string; field?: string } }
  | { id: number; kind: 'answer'; value: Metrics | boolean | null }
  | { id: number; kind: 'failed'; message: string };

export interface ExpressThread {
  /** Starts taking jobs (once every lane of the process is up). */
  attach(): Promise<void>;
  /** The thread's metrics, as prom-client's JSON (to merge with the main thread's). */
  metrics(): Promise<Metrics>;
  ready(): Promise<boolean>;
  /** Closes the lane (running jobs finish) and ends the thread. */
  close(): Promise<void>;
}

/**
 * Starts the express thread from this worker's entry module (`entry`: its own URL, a bundle or
 * the TypeScript source); resolves once its lane is ready to attach. If the thread dies later,
 * `onExit` is called.
 */
export async function startExpressThread(
  entry: URL,
  config: Readonly<Config>,
  log: Logger,
  onExit: (code: number) => void,
): Promise<ExpressThread> {
  const thread = spawnThread(entry, config);
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  let nextId = 0;
  let closing = false;
  const started = new Promise<void>((resolve, reject) => {
    thread.on('message', (reply: Reply) => {
      if (reply.kind === 'started') return resolve();
      if (reply.kind === 'start-failed')
        return reject(Object.assign(new Error(reply.error.message), reply.error));
      const call = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.kind === 'answer') call?.resolve(reply.value);
      else call?.reject(new Error(reply.message));
    });
    thread.on('error', (err) => {
      log.error({ err }, 'express thread failed');
      reject(err);
    });
    thread.on('exit', (code) => {
      for (const call of pending.values()) call.reject(new Error('express thread exited'));
      pending.clear();
      reject(new Error(`express thread exited (${code}) before it started`));
      if (!closing) onExit(code);
    });
  });
  await started;
  const ask = <T>(kind: Request['kind']) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      thread.postMessage({ id, kind } satisfies Request);
    });
  return {
    attach: async () => void (await ask<null>('attach')),
    metrics: () => ask<Metrics>('metrics'),
    ready: () => ask<boolean>('ready'),
    close: async () => {
      closing = true;
      // Its lane closes first (running jobs finish, connections quit); then the thread ends, even
      // if a stray handle would keep its event loop alive.
      await ask<null>('close').catch(() => undefined);
      await thread.terminate();
    },
  };
}

/**
 * A thread running `entry`. The bundle runs as it is; the TypeScript source (tests, `npm run`
 * in a checkout) needs tsx, whose `--import` hooks a thread does not inherit: it registers them
 * first.
 */
function spawnThread(entry: URL, config: Readonly<Config>): Worker {
  // The config as this process read it: one reading (and one validation of every app) per process.
  const workerData: ThreadData = { config };
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

interface ThreadData {
  config: Readonly<Config>;
}

/** In the express thread: the config the main thread passed. */
export function threadConfig(): Readonly<Config> {
  return (workerData as ThreadData).config;
}

/** The thread's side: runs the express lane and answers the main thread. */
export async function runExpressThread(config: Readonly<Config>, log: Logger): Promise<void> {
  const port = parentPort!;
  const registry = new Registry();
  let lane: Awaited<ReturnType<typeof startLane>>;
  try {
    lane = await startLane({ config, log, registry, queues: [expressQueueName] });
  } catch (err) {
    const e = err as { message?: string; code?: string; field?: string };
    port.postMessage({
      kind: 'start-failed',
      error: { message: e.message ?? String(err), code: e.code, field: e.field },
    } satisfies Reply);
    return;
  }
  port.on('message', (request: Request) => {
    const answer = async (): Promise<Metrics | boolean | null> => {
      if (request.kind === 'attach') {
        await lane.attach();
        log.info({ attached: lane.apps() }, 'express lane attached');
        return null;
      }
      if (request.kind === 'metrics') return (await registry.getMetricsAsJSON()) as Metrics;
      if (request.kind === 'ready') return lane.ready();
      for (const part of lane.parts) {
        await part.close().catch((err) => log.error({ err, part: part.name }, 'close failed'));
      }
      return null;
    };
    void answer().then(
      (value) => {
        port.postMessage({ id: request.id, kind: 'answer', value } satisfies Reply);
        if (request.kind === 'close') port.close();
      },
      (err: Error) =>
        port.postMessage({ id: request.id, kind: 'failed', message: err.message } satisfies Reply),
    );
  });
  port.postMessage({ kind: 'started' } satisfies Reply);
}
