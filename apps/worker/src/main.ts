import { isMainThread } from 'node:worker_threads';
import { loadConfig } from '@pushfleet/config';
import { appQueueName, appQueueNames } from '@pushfleet/queue';
import {
  createLogger,
  enableProcessMetrics,
  exitOnStartupError,
  onShutdownSignal,
  startOpsServer,
} from '@pushfleet/telemetry';
import { AggregatorRegistry, Registry } from 'prom-client';
import { type ExpressThread, runExpressThread, startExpressThread, threadConfig } from './express-thread.ts';
import { startLane } from './lane.ts';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const log = createLogger({ name: 'worker', level: config.log.level });
  const registry = new Registry();
  enableProcessMetrics(registry);
  let express: ExpressThread | undefined;
  // One /metrics for the process: the express thread's counters are added to this thread's.
  const metrics = {
    contentType: registry.contentType,
    async metrics() {
      // Before the thread is up, and while it shuts down, this thread's metrics alone.
      const thread = await express?.metrics().catch(() => undefined);
      if (!thread) return registry.metrics();
      return AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), thread]).metrics();
    },
  };
  let ready = async () => false;
  // The ops port first: a second worker on the same host fails here, before it takes any job.
  const ops = await startOpsServer({
    host: config.worker.host,
    port: config.worker.port,
    portField: 'worker.port',
    registry: metrics,
    ready: () => ready(),
  });
  // The two lanes start side by side (the thread loads the bundle and connects on its own).
  const started = Promise.all([
    startLane({
      config,
      log,
      registry,
      queues: config.worker.expressThread ? [appQueueName] : appQueueNames,
    }),
    config.worker.expressThread
      ? startExpressThread(new URL(import.meta.url), config, log, (code) => {
          // Its jobs are taken over once their locks expire (after the restart, or by another worker).
          log.fatal({ code }, 'express thread stopped: exiting so that the worker restarts');
          process.exit(1);
        })
      : undefined,
  ]);
  // Wired before the lanes are up: a SIGTERM during the start closes them once they are.
  const parts = started.then(([lane, thread]) => {
    const [workers, ...rest] = lane.parts;
    return [
      // Both lanes stop taking jobs and finish the running ones at once; the express thread then
      // closes the rest of its lane and ends.
      { name: 'workers', close: async () => void (await Promise.all([workers!.close(), thread?.close()])) },
      ...rest,
      { name: 'ops', close: () => ops.close() },
    ];
  });
  // A failed start is reported by main's caller; this copy of it is not another failure.
  parts.catch(() => undefined);
  onShutdownSignal(parts, log, config.worker.shutdownGraceMs);
  const [lane, thread] = await started;
  // Jobs only once both lanes are up: a start that fails (Redis down at the wrong moment) then
  // exits before this process took any job.
  await Promise.all([lane.attach(), thread?.attach()]);
  express = thread;
  ready = async () => (await lane.ready()) && (thread ? await thread.ready() : true);
  log.info({ port: ops.port, attached: lane.apps(), expressThread: Boolean(thread) }, 'worker ready');
}

async function expressThreadMain(): Promise<void> {
  const config = threadConfig();
  const log = createLogger({ name: 'worker', level: config.log.level }).child({ lane: 'express' });
  await runExpressThread(config, log);
}

if (isMainThread) main().catch((err) => exitOnStartupError('worker', err));
else void expressThreadMain();
