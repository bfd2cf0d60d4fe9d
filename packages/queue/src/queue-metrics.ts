import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { QueueRef } from './names.ts';

const states = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

/**
 * `bullmq_job_count{queue,state}` read from Redis at scrape time: the queue depth that the
 * backlog alert, the dashboard and KEDA's Prometheus trigger use. Exported by the scheduler (one
 * or two replicas); queries take `max` per (queue, state) so replicas do not add up.
 */
export function registerQueueDepthMetrics(
  registry: Registry,
  redis: Redis,
  queueRefs: () => QueueRef[],
  onError: (err: Error) => void = () => undefined,
) {
  const queues = new Map<string, Queue>();
  const queueFor = (ref: QueueRef) => {
    let queue = queues.get(ref.label);
    if (!queue) {
      queue = new Queue(ref.name, { connection: redis, prefix: ref.prefix });
      // Without a listener BullMQ prints raw errors to stderr (logs must stay JSON).
      queue.on('error', onError);
      queues.set(ref.label, queue);
    }
    return queue;
  };
  new Gauge({
    name: 'bullmq_job_count',
    help: 'Jobs per BullMQ queue and state (read from Redis at scrape time).',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const ref of queueRefs()) {
        const counts = await queueFor(ref).getJobCounts(...states);
        for (const state of states) this.set({ queue: ref.label, state }, counts[state] ?? 0);
      }
    },
  });
  return {
    close: async () => {
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
    },
  };
}
