/**
 * The Grafana dashboard, as code: `node --import tsx scripts/ops/generate.ts` writes it to
 * deploy/grafana/dashboards/pushfleet.json (compose) and helm/pushfleet/files/ (the chart's
 * ConfigMap); tests/ops/dashboard.test.ts fails when either copy is stale and parses every query.
 * Queries use the `component` label that the demo's Prometheus config and the chart's
 * ServiceMonitors set (api | worker | scheduler).
 */

// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a JS template
const ds = { type: 'prometheus', uid: '${datasource}' };
const sel = 'app=~"$app", environment=~"$environment"';
const rate = (metric: string, labels = sel) => `rate(${metric}{${labels}}[$__rate_interval])`;

/** APNs reasons that mean "this provider's credentials are wrong" (reason table in packages/core). */
export const credentialReasons =
  'InvalidProviderToken|ExpiredProviderToken|MissingProviderToken|BadCertificate|BadCertificateEnvironment|Forbidden';
/** APNs reasons after which a token is invalid and is purged through the feedback stream. */
export const invalidatingReasons = 'Unregistered|BadDeviceToken|DeviceTokenNotForTopic|ExpiredToken';

interface Target {
  expr: string;
  legend: string;
}
interface PanelSpec {
  title: string;
  description: string;
  type?: 'timeseries' | 'stat';
  unit: string;
  targets: Target[];
  width?: number;
  stack?: boolean;
}
type Row = { row: string; panels: PanelSpec[] };

const q = (expr: string, legend: string): Target => ({ expr, legend });

export const rows: Row[] = [
  {
    row: 'Overview',
    panels: [
      {
        title: 'Accepted /s',
        description: 'Notifications (tokens) accepted by the API.',
        type: 'stat',
        unit: 'ops',
        width: 6,
        targets: [q(`sum(${rate('pushfleet_notifications_accepted_total')})`, 'accepted')],
      },
      {
        title: 'Delivered /s',
        description: 'Tokens APNs accepted.',
        type: 'stat',
        unit: 'ops',
        width: 6,
        targets: [
          q(`sum(${rate('pushfleet_notifications_total', `${sel}, outcome="delivered"`)})`, 'delivered'),
        ],
      },
      {
        title: 'Not delivered',
        description:
          'Share of terminal outcomes other than delivered (rejected, failed, expired, cancelled).',
        type: 'stat',
        unit: 'percentunit',
        width: 6,
        targets: [
          q(
            `sum(${rate('pushfleet_notifications_total', `${sel}, outcome!="delivered"`)}) / clamp_min(sum(${rate('pushfleet_notifications_total')}), 1e-9)`,
            'not delivered',
          ),
        ],
      },
      {
        title: 'Workers up',
        description: 'Worker processes Prometheus scrapes successfully.',
        type: 'stat',
        unit: 'short',
        width: 6,
        targets: [q('sum(up{component="worker"}) or vector(0)', 'workers')],
      },
    ],
  },
  {
    row: 'Throughput',
    panels: [
      {
        title: 'Outcomes /s',
        description: 'Terminal outcome of each token: delivered, rejected, failed, expired, cancelled.',
        unit: 'ops',
        stack: true,
        targets: [q(`sum by (outcome) (${rate('pushfleet_notifications_total')})`, '{{outcome}}')],
      },
      {
        title: 'Not delivered by reason /s',
        description: 'Rejections and failures by APNs reason (or Pushfleet reason for failures).',
        unit: 'ops',
        stack: true,
        targets: [
          q(
            `sum by (outcome, reason) (${rate('pushfleet_notifications_total', `${sel}, outcome!="delivered"`)})`,
            '{{outcome}} {{reason}}',
          ),
        ],
      },
      {
        title: 'API requests by status /s',
        description: 'HTTP API requests by route and status code.',
        unit: 'reqps',
        targets: [
          q(
            'sum by (route, status) (rate(pushfleet_http_requests_total[$__rate_interval]))',
            '{{status}} {{route}}',
          ),
        ],
      },
      {
        title: 'Accepted vs finished /s',
        description: 'Accepted by the API against terminal outcomes: a lasting gap is a growing backlog.',
        unit: 'ops',
        targets: [
          q(`sum(${rate('pushfleet_notifications_accepted_total')})`, 'accepted'),
          q(`sum(${rate('pushfleet_notifications_total')})`, 'finished'),
        ],
      },
    ],
  },
  {
    row: 'APNs',
    panels: [
      {
        title: 'APNs request latency',
        description: 'Time from writing a request to its response (p50, p90, p99).',
        unit: 's',
        targets: ['0.5', '0.9', '0.99'].map((p) =>
          q(
            `histogram_quantile(${p}, sum by (le) (${rate('pushfleet_apns_request_duration_seconds_bucket')}))`,
            `p${Number(p) * 100}`,
          ),
        ),
      },
      {
        title: 'APNs responses by status /s',
        description: 'Every APNs response (retried attempts included) by HTTP status and reason.',
        unit: 'ops',
        stack: true,
        targets: [
          q(`sum by (status, reason) (${rate('pushfleet_apns_responses_total')})`, '{{status}} {{reason}}'),
        ],
      },
      {
        title: 'APNs error ratio',
        description: 'Share of APNs responses that are not 200.',
        unit: 'percentunit',
        targets: [
          q(
            `sum by (app) (${rate('pushfleet_apns_responses_total', `${sel}, status!="200"`)}) / clamp_min(sum by (app) (${rate('pushfleet_apns_responses_total')}), 1e-9)`,
            '{{app}}',
          ),
        ],
      },
      {
        title: 'Credential errors /s',
        description: 'APNs rejected the provider token or certificate: delivery for that app stops.',
        unit: 'ops',
        targets: [
          q(
            `sum by (app, environment, reason) (${rate('pushfleet_apns_responses_total', `${sel}, reason=~"${credentialReasons}"`)})`,
            '{{app}}/{{environment}} {{reason}}',
          ),
        ],
      },
    ],
  },
  {
    row: 'Queues',
    panels: [
      {
        title: 'Queue depth',
        description: 'Deliver jobs (batches of tokens) waiting, by queue (BullMQ wait + prioritized).',
        unit: 'short',
        targets: [
          q(
            'sum by (queue) (max by (queue, state) (bullmq_job_count{queue=~"(deliver|express)-.*", state=~"waiting|prioritized"}))',
            '{{queue}} waiting',
          ),
          q(
            'max by (queue) (bullmq_job_count{queue=~"(deliver|express)-.*", state="delayed"})',
            '{{queue}} delayed (retries)',
          ),
          q(
            'max by (queue) (bullmq_job_count{queue=~"(deliver|express)-.*", state="active"})',
            '{{queue}} active',
          ),
        ],
      },
      {
        title: 'Queue wait time',
        description: 'Time a deliver job waited before a worker took it (p50, p99).',
        unit: 's',
        targets: ['0.5', '0.99'].map((p) =>
          q(
            `histogram_quantile(${p}, sum by (le) (rate(pushfleet_queue_wait_seconds_bucket{app=~"$app"}[$__rate_interval])))`,
            `p${Number(p) * 100}`,
          ),
        ),
      },
      {
        title: 'Batch duration',
        description: 'Time to send one deliver job (p50, p99).',
        unit: 's',
        targets: ['0.5', '0.99'].map((p) =>
          q(
            `histogram_quantile(${p}, sum by (le) (rate(pushfleet_batch_duration_seconds_bucket{app=~"$app"}[$__rate_interval])))`,
            `p${Number(p) * 100}`,
          ),
        ),
      },
      {
        title: 'Feedback lag',
        description: 'Age of the oldest invalid-token event the scheduler has not processed yet.',
        unit: 's',
        targets: [q('max(pushfleet_feedback_lag_seconds)', 'oldest unprocessed event')],
      },
    ],
  },
  {
    row: 'Connections, retries and tokens',
    panels: [
      {
        title: 'APNs connections',
        description: 'Open HTTP/2 connections per worker pod.',
        unit: 'short',
        targets: [q(`sum by (instance) (pushfleet_apns_connections{${sel}})`, '{{instance}}')],
      },
      {
        title: 'In-flight streams',
        description: 'APNs requests awaiting a response per worker pod (capped per connection).',
        unit: 'short',
        targets: [q(`sum by (instance) (pushfleet_apns_inflight_streams{${sel}})`, '{{instance}}')],
      },
      {
        title: 'APNs pool per app × environment',
        description:
          'The self-sizing connection pools, summed over workers: open connections, streams in flight, ' +
          'the streams they may carry (own cap and server SETTINGS) and requests queued for a slot. ' +
          'Requests queued while connections sit at apps.<id>.connections.max mean the pool is too small ' +
          'for rate × APNs round trip: raise max or add workers.',
        unit: 'short',
        width: 24,
        targets: [
          q(
            `sum by (app, environment) (pushfleet_apns_connections{${sel}})`,
            '{{app}}/{{environment}} connections',
          ),
          q(
            `sum by (app, environment) (pushfleet_apns_inflight_streams{${sel}})`,
            '{{app}}/{{environment}} in flight',
          ),
          q(
            `sum by (app, environment) (pushfleet_apns_stream_limit{${sel}})`,
            '{{app}}/{{environment}} stream limit',
          ),
          q(
            `sum by (app, environment) (pushfleet_apns_waiting_requests{${sel}})`,
            '{{app}}/{{environment}} queued',
          ),
        ],
      },
      {
        title: 'Reconnects /s',
        description: 'APNs connections lost (GOAWAY, error, close) and replaced.',
        unit: 'ops',
        targets: [
          q(
            `sum by (app, environment) (${rate('pushfleet_apns_reconnects_total')})`,
            '{{app}}/{{environment}}',
          ),
        ],
      },
      {
        title: 'Apps paused (credentials)',
        description:
          'App × environments paused because APNs refused their credentials: their jobs wait for the pause to end.',
        unit: 'short',
        targets: [
          q(
            'max by (app, environment, reason) (pushfleet_app_paused{app=~"$app"}) > 0',
            '{{app}} {{environment}} {{reason}}',
          ),
        ],
      },
      {
        title: 'Credential expiry (days left)',
        description:
          'Days until each app’s APNs certificate expires (its notAfter, from the scheduler; .p8 keys have no date). ' +
          'Alerts at 30 and 7 days: PushfleetCredentialExpiresSoon.',
        unit: 'd',
        targets: [
          q(
            `(min by (app, environment) (pushfleet_credential_expiry_timestamp_seconds{${sel}}) - time()) / 86400`,
            '{{app}}/{{environment}}',
          ),
        ],
      },
      {
        title: 'Retries scheduled /s',
        description: 'Tokens put back on the queue for a later attempt, by reason.',
        unit: 'ops',
        stack: true,
        targets: [q(`sum by (reason) (${rate('pushfleet_retries_scheduled_total')})`, '{{reason}}')],
      },
      {
        title: 'Invalidated tokens /s',
        description: 'Tokens APNs reported invalid: they become feedback events and are purged.',
        unit: 'ops',
        stack: true,
        targets: [
          q(
            `sum by (reason) (${rate('pushfleet_notifications_total', `${sel}, outcome="rejected", reason=~"${invalidatingReasons}"`)})`,
            '{{reason}}',
          ),
        ],
      },
    ],
  },
  {
    row: 'Errors',
    panels: [
      {
        title: 'Errors by code /s',
        description: 'Pushfleet errors by stable PF_ERR_ code, per component.',
        unit: 'ops',
        targets: [
          q(
            'sum by (component, code) (rate(pushfleet_errors_total[$__rate_interval]))',
            '{{component}} {{code}}',
          ),
        ],
      },
      {
        title: 'API 5xx /s',
        description: 'Server-side API errors by route.',
        unit: 'reqps',
        targets: [
          q(
            'sum by (route) (rate(pushfleet_http_requests_total{status=~"5.."}[$__rate_interval]))',
            '{{route}}',
          ),
        ],
      },
      {
        title: 'Scheduled runs /s',
        description: 'Scheduler job runs by job and result.',
        unit: 'ops',
        targets: [
          q(
            'sum by (schedule, result) (rate(pushfleet_scheduled_runs_total[$__rate_interval]))',
            '{{schedule}} {{result}}',
          ),
        ],
      },
      {
        title: 'Scrape targets down',
        description: 'Pushfleet processes Prometheus cannot scrape, by component.',
        unit: 'short',
        targets: [q('count by (component) (up{component=~"api|worker|scheduler"} == 0)', '{{component}}')],
      },
    ],
  },
  {
    row: 'Saturation per pod',
    panels: [
      {
        title: 'CPU',
        description: 'CPU seconds per second per process (1 = one core).',
        unit: 'percentunit',
        targets: [
          q(
            'sum by (component, instance) (rate(pushfleet_process_process_cpu_seconds_total[$__rate_interval]))',
            '{{component}} {{instance}}',
          ),
        ],
      },
      {
        title: 'Resident memory',
        description: 'Resident set size per process.',
        unit: 'bytes',
        targets: [
          q(
            'max by (component, instance) (pushfleet_process_process_resident_memory_bytes)',
            '{{component}} {{instance}}',
          ),
        ],
      },
      {
        title: 'Event loop lag p99',
        description: 'Node.js event loop delay: above ~100 ms the process is CPU-bound.',
        unit: 's',
        targets: [
          q(
            'max by (component, instance) (pushfleet_process_nodejs_eventloop_lag_p99_seconds)',
            '{{component}} {{instance}}',
          ),
        ],
      },
      {
        title: 'Heap used',
        description: 'V8 heap in use per process.',
        unit: 'bytes',
        targets: [
          q(
            'sum by (component, instance) (pushfleet_process_nodejs_heap_size_used_bytes)',
            '{{component}} {{instance}}',
          ),
        ],
      },
    ],
  },
];

function panel(spec: PanelSpec, id: number, x: number, y: number) {
  const width = spec.width ?? 12;
  const base = {
    id,
    type: spec.type ?? 'timeseries',
    title: spec.title,
    description: spec.description,
    datasource: ds,
    gridPos: { h: spec.type === 'stat' ? 4 : 8, w: width, x, y },
    targets: spec.targets.map((t, i) => ({
      datasource: ds,
      expr: t.expr,
      legendFormat: t.legend,
      refId: String.fromCharCode(65 + i),
    })),
  };
  if (spec.type === 'stat') {
    return {
      ...base,
      fieldConfig: { defaults: { unit: spec.unit }, overrides: [] },
      options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value' },
    };
  }
  return {
    ...base,
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        custom: { fillOpacity: spec.stack ? 30 : 10, stacking: { mode: spec.stack ? 'normal' : 'none' } },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom' },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

function variable(name: string, label: string, query: string) {
  return {
    name,
    label,
    type: 'query',
    datasource: ds,
    query: { query, refId: name },
    definition: query,
    includeAll: true,
    multi: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    refresh: 2,
    sort: 1,
  };
}

export function buildDashboard() {
  const panels: unknown[] = [];
  let id = 1;
  let y = 0;
  for (const { row, panels: specs } of rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const spec of specs) {
      const p = panel(spec, id++, x, y);
      panels.push(p);
      x += p.gridPos.w;
      if (x >= 24) {
        x = 0;
        y += p.gridPos.h;
      }
    }
    if (x > 0) y += 8;
  }
  return {
    uid: 'pushfleet',
    title: 'Pushfleet',
    description: 'Pushfleet APNs provider: throughput, APNs, queues, connections, errors, saturation.',
    tags: ['pushfleet', 'apns'],
    timezone: 'browser',
    editable: false,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
        variable('app', 'App', 'label_values(pushfleet_notifications_accepted_total, app)'),
        variable(
          'environment',
          'Environment',
          'label_values(pushfleet_notifications_accepted_total, environment)',
        ),
      ],
    },
    annotations: { list: [] },
    links: [],
    panels,
  };
}

/** Every PromQL expression of the dashboard, for tests and docs. */
export function dashboardQueries(): Array<{ panel: string; expr: string }> {
  return rows.flatMap((r) =>
    r.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr }))),
  );
}
