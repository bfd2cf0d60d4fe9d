import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The metric catalogue. Names follow Prometheus conventions (pushfleet_ prefix, base units,
 * _total counters) and labels stay bounded: app, environment, outcome, reason, never a token or id.
 */
export interface DeliveryMetricSources {
  /**
   * Read at scrape time: APNs requests awaiting an answer (`value`), per app and environment,
   * with the state of the connection pool where the transport has one.
   */
  inFlight?: () => {
    app: string;
    environment: string;
    value: number;
    /** Requests queued for a free stream slot: above 0 for long, the pool is at its maximum. */
    waiting?: number;
    /** Streams the pool may have in flight now (Σ min(own cap, server's SETTINGS) per connection). */
    streamLimit?: number;
  }[];
}

export function createDeliveryMetrics(registry: Registry, sources: DeliveryMetricSources = {}) {
  const registers = [registry];
  return {
    notifications: new Counter({
      name: 'pushfleet_notifications_total',
      help: 'Notifications (one token each) that reached a terminal outcome.',
      labelNames: ['app', 'environment', 'outcome', 'reason'] as const,
      registers,
    }),
    broadcasts: new Counter({
      name: 'pushfleet_broadcasts_total',
      help: 'Broadcasts (one channel each) that reached a terminal outcome (delivered, rejected, failed, expired, cancelled).',
      labelNames: ['app', 'result'] as const,
      registers,
    }),
    apnsRequestDuration: new Histogram({
      name: 'pushfleet_apns_request_duration_seconds',
      help: 'Time from writing an APNs request to its response.',
      labelNames: ['app', 'environment'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    apnsResponses: new Counter({
      name: 'pushfleet_apns_responses_total',
      help: 'APNs responses by HTTP status and reason (retried attempts included).',
      labelNames: ['app', 'environment', 'status', 'reason'] as const,
      registers,
    }),
    retriesScheduled: new Counter({
      name: 'pushfleet_retries_scheduled_total',
      help: 'Tokens put back on the queue for a later attempt.',
      labelNames: ['app', 'environment', 'reason'] as const,
      registers,
    }),
    batchDuration: new Histogram({
      name: 'pushfleet_batch_duration_seconds',
      help: 'Time to send one deliver job (a batch of tokens).',
      labelNames: ['app'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    queueWait: new Histogram({
      name: 'pushfleet_queue_wait_seconds',
      help: 'Time a deliver job waited in the queue before a worker took it.',
      labelNames: ['app'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    }),
    connections: new Gauge({
      name: 'pushfleet_apns_connections',
      help: 'Open HTTP/2 connections to APNs (the pool size, per app and environment).',
      labelNames: ['app', 'environment'] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: 'pushfleet_apns_inflight_streams',
      help: 'APNs requests awaiting an answer.',
      labelNames: ['app', 'environment'] as const,
      registers,
      collect() {
        if (!sources.inFlight) return;
        this.reset();
        for (const { app, environment, value } of sources.inFlight()) this.set({ app, environment }, value);
      },
    }),
    waitingRequests: new Gauge({
      name: 'pushfleet_apns_waiting_requests',
      help: 'APNs requests queued for a free HTTP/2 stream slot (the pool is saturated while above 0).',
      labelNames: ['app', 'environment'] as const,
      registers,
      collect() {
        if (!sources.inFlight) return;
        this.reset();
        for (const { app, environment, waiting } of sources.inFlight()) {
          if (waiting !== undefined) this.set({ app, environment }, waiting);
        }
      },
    }),
    streamLimit: new Gauge({
      name: 'pushfleet_apns_stream_limit',
      help: "Streams the APNs connection pool may have in flight: each connection's min(own cap, server SETTINGS), summed.",
      labelNames: ['app', 'environment'] as const,
      registers,
      collect() {
        if (!sources.inFlight) return;
        this.reset();
        for (const { app, environment, streamLimit } of sources.inFlight()) {
          if (streamLimit !== undefined) this.set({ app, environment }, streamLimit);
        }
      },
    }),
    reconnects: new Counter({
      name: 'pushfleet_apns_reconnects_total',
      help: 'APNs connections lost (GOAWAY, error, close) and replaced.',
      labelNames: ['app', 'environment'] as const,
      registers,
    }),
    jwtRefreshes: new Counter({
      name: 'pushfleet_apns_jwt_refreshes_total',
      help: 'Provider tokens re-signed after APNs answered ExpiredProviderToken.',
      labelNames: ['app', 'environment'] as const,
      registers,
    }),
    appPaused: new Gauge({
      name: 'pushfleet_app_paused',
      help: '1 while an app × environment is paused because APNs rejected its credentials.',
      labelNames: ['app', 'environment', 'reason'] as const,
      registers,
      // Each of a worker's threads mirrors the same pauses: merged, 1 stays 1.
      aggregator: 'max',
    }),
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;

export function createApiMetrics(registry: Registry) {
  return {
    httpRequests: new Counter({
      name: 'pushfleet_http_requests_total',
      help: 'HTTP API requests by route and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'pushfleet_errors_total',
      help: 'API error answers by stable error code (PF_ERR_…).',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    notificationsAccepted: new Counter({
      name: 'pushfleet_notifications_accepted_total',
      help: 'Notifications (one token each) accepted and enqueued by the API.',
      labelNames: ['app', 'environment'] as const,
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function enableProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'pushfleet_process_' });
}

export interface SchedulerMetricSources {
  /** Read at scrape time: age in seconds of the oldest feedback event not yet applied. */
  feedbackLagSeconds?: () => Promise<number>;
}

/** The scheduler's catalogue: scheduled runs, the feedback service and its webhooks. */
export function createSchedulerMetrics(registry: Registry, sources: SchedulerMetricSources = {}) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'pushfleet_scheduled_runs_total',
      help: 'Scheduled job runs by schedule (feedback-poll, housekeeping, …) and result.',
      // Not `job`: Prometheus sets its own `job` label on every scrape.
      labelNames: ['schedule', 'result'] as const,
      registers,
    }),
    runDuration: new Histogram({
      name: 'pushfleet_scheduled_run_duration_seconds',
      help: 'Time one scheduled job run took.',
      labelNames: ['schedule'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900],
      registers,
    }),
    feedbackEvents: new Counter({
      name: 'pushfleet_feedback_events_total',
      help:
        'Invalidated tokens decided by the purge, by reason and action: purged, kept (registered again ' +
        'after the failure), unknown (not registered), skipped (environment not known to match), ignored.',
      labelNames: ['app', 'environment', 'reason', 'action'] as const,
      registers,
    }),
    feedbackLag: new Gauge({
      name: 'pushfleet_feedback_lag_seconds',
      help: 'Age of the oldest feedback event not yet applied (0 when caught up).',
      registers,
      async collect() {
        if (sources.feedbackLagSeconds) this.set(await sources.feedbackLagSeconds());
      },
    }),
    legacyFeedbackTuples: new Counter({
      name: 'pushfleet_legacy_feedback_tuples_total',
      help: 'Tuples read from legacy binary feedback endpoints.',
      labelNames: ['app'] as const,
      registers,
    }),
    legacyFeedbackReads: new Counter({
      name: 'pushfleet_legacy_feedback_reads_total',
      help: 'Connections to legacy binary feedback endpoints by result.',
      labelNames: ['app', 'result'] as const,
      registers,
    }),
    staleTokens: new Counter({
      name: 'pushfleet_stale_tokens_total',
      help: 'Tokens the stale-token sweep found not refreshed for scheduler.staleTokenDays.',
      labelNames: ['app', 'environment'] as const,
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'pushfleet_webhook_deliveries_total',
      help: 'Feedback webhook POSTs by result: ok (2xx), error (will retry), dead (last attempt failed).',
      labelNames: ['app', 'result'] as const,
      registers,
    }),
    webhookItems: new Counter({
      name: 'pushfleet_webhook_items_total',
      help: 'Feed items delivered to webhooks (2xx).',
      labelNames: ['app'] as const,
      registers,
    }),
    housekeepingRemoved: new Counter({
      name: 'pushfleet_housekeeping_removed_total',
      help: 'Records housekeeping removed, by kind (jobs, campaign-index, feedback-stream, feed).',
      labelNames: ['kind'] as const,
      registers,
    }),
    credentialExpiry: new Gauge({
      name: 'pushfleet_credential_expiry_timestamp_seconds',
      help:
        'When the credentials of an app stop working (a certificate’s notAfter), per environment it ' +
        'serves, for config and registry apps. Absent for .p8 keys: Apple gives them no expiry date.',
      labelNames: ['app', 'environment'] as const,
      registers,
    }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
