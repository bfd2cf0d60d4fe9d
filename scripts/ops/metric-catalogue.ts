/**
 * The metric catalogue as data, read from prom-client itself: every catalogue function of
 * @pushfleet/telemetry registers into a fresh Registry, and the registry lists what it holds.
 * Used by docs/metrics.md (generated), the dashboard/alert tests and the /metrics lint.
 */
import {
  createApiMetrics,
  createDeliveryMetrics,
  createSchedulerMetrics,
  enableProcessMetrics,
} from '@pushfleet/telemetry';
import { Registry } from 'prom-client';

export interface MetricInfo {
  name: string;
  type: string;
  help: string;
  labels: string[];
  /** Which processes expose it. */
  exposedBy: string;
  source: string;
}

type Json = { name: string; type: string; help: string; values: Array<{ labels: Record<string, unknown> }> };

async function fromRegistry(register: (r: Registry) => void, exposedBy: string, source: string) {
  const registry = new Registry();
  register(registry);
  const json = (await registry.getMetricsAsJSON()) as unknown as Json[];
  return json.map((m) => {
    const metric = registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined;
    const labels = metric?.labelNames?.length
      ? metric.labelNames
      : [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))];
    return {
      name: m.name,
      type: m.type,
      help: m.help,
      labels: labels.filter((l) => l !== 'le'),
      exposedBy,
      source,
    };
  });
}

/**
 * Metrics defined outside the catalogue functions, or by third parties. Kept here by hand; the
 * /metrics lint (tests/ops/metrics-scrape.test.ts) fails when a scrape shows a name in neither list.
 */
export const extraMetrics: MetricInfo[] = [
  {
    name: 'bullmq_job_count',
    type: 'gauge',
    help: 'Jobs per BullMQ queue and state, read from Redis at scrape time. Queue depth, backlog alert and KEDA trigger; take `max` per (queue, state) across scheduler replicas.',
    labels: ['queue', 'state'],
    exposedBy: 'scheduler',
    source: 'packages/queue/src/queue-metrics.ts registerQueueDepthMetrics',
  },
];

/**
 * Names the dashboard and alerts use that no process exposes yet. Each needs a code change
 * (see docs/metrics.md "Planned"); until then those panels are empty and those alerts silent.
 */
export const plannedMetrics: MetricInfo[] = [];

/** Label names Prometheus adds at scrape time; every query may use them. */
export const targetLabels = ['job', 'instance', 'component', 'exported_job', 'pod', 'namespace'];

export async function catalogue(): Promise<MetricInfo[]> {
  const src = 'packages/telemetry/src/metrics.ts';
  const lists = await Promise.all([
    fromRegistry((r) => createDeliveryMetrics(r), 'worker', `${src} createDeliveryMetrics`),
    fromRegistry((r) => createApiMetrics(r), 'api', `${src} createApiMetrics`),
    fromRegistry((r) => createSchedulerMetrics(r), 'scheduler', `${src} createSchedulerMetrics`),
    fromRegistry((r) => enableProcessMetrics(r), 'api, worker, scheduler', `${src} enableProcessMetrics`),
  ]);
  return lists.flat();
}

/**
 * `promtool check metrics` findings accepted on a real scrape, each with its reason; documented
 * in docs/metrics.md. Matched on metric name and finding text.
 */
export const promtoolAllowList: Array<{ metric: string; finding: string; reason: string }> = [
  {
    metric: 'pushfleet_process_nodejs_active_resources_total',
    finding: 'non-counter metrics should not have "_total" suffix',
    reason: "prom-client's default Node.js gauge; its name is not ours to change.",
  },
  {
    metric: 'pushfleet_process_nodejs_active_handles_total',
    finding: 'non-counter metrics should not have "_total" suffix',
    reason: "prom-client's default Node.js gauge.",
  },
  {
    metric: 'pushfleet_process_nodejs_active_requests_total',
    finding: 'non-counter metrics should not have "_total" suffix',
    reason: "prom-client's default Node.js gauge.",
  },
  {
    metric: 'bullmq_job_count',
    finding: 'non-histogram and non-summary metrics should not have "_count" suffix',
    reason:
      "BullMQ's conventional name (what KEDA examples and BullMQ's own exporter use), kept for compatibility.",
  },
];
