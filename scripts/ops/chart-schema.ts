/**
 * helm/pushfleet/values.schema.json, as code: strict (additionalProperties: false everywhere the
 * chart owns the shape), so `helm lint` / `helm template` reject unknown and mistyped values.
 * The api, worker and scheduler blocks share one definition. Descriptions feed the chart README.
 * Written by scripts/ops/generate.ts.
 */
type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string, minimum = 0, extra: Schema = {}): Schema => ({
  type: 'integer',
  minimum,
  description,
  ...extra,
});
const bool = (description: string): Schema => ({ type: 'boolean', description });
const obj = (description: string, properties: Record<string, Schema>, required?: string[]): Schema => ({
  type: 'object',
  description,
  additionalProperties: false,
  properties,
  ...(required ? { required } : {}),
});
/** Kubernetes objects passed through as-is (resources, affinity…): typed as objects, keys free. */
const k8s = (description: string): Schema => ({ type: 'object', description });
const k8sList = (description: string): Schema => ({ type: 'array', description, items: { type: 'object' } });
const stringMap = (description: string): Schema => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});

const probe = (what: string): Schema =>
  obj(`${what} timings (the path and port are fixed by the chart).`, {
    initialDelaySeconds: int('Seconds before the first probe.'),
    periodSeconds: int('Seconds between probes.', 1),
    timeoutSeconds: int('Seconds before a probe times out.', 1),
    failureThreshold: int('Failures before acting.', 1),
    successThreshold: int('Successes to count as passing again.', 1),
  });

const component = (name: string, purpose: string): Schema =>
  obj(`The ${name} Deployment: ${purpose}.`, {
    enabled: bool(`Deploy the ${name}.`),
    replicas: int('Replicas when autoscaling is off.', 0),
    port: int('Container port of /metrics, /healthz, /readyz (and the HTTP API for api).', 1, {
      maximum: 65535,
    }),
    resources: obj('Container resources (requests and limits).', {
      requests: k8s('Resource requests, e.g. {cpu: 250m, memory: 256Mi}.'),
      limits: k8s('Resource limits, e.g. {memory: 768Mi}.'),
    }),
    livenessProbe: probe('Liveness probe on /healthz (process only, never Redis)'),
    readinessProbe: probe('Readiness probe on /readyz (Redis reachable)'),
    terminationGracePeriodSeconds: int(
      'Seconds between SIGTERM and SIGKILL; for the worker, the drain time is this minus 15 s.',
      15,
    ),
    topologySpreadConstraints: k8sList(
      "Spread constraints; the chart adds the component's labelSelector when one is not given.",
    ),
    pdb: obj('PodDisruptionBudget (policy/v1).', {
      enabled: bool('Render a PDB.'),
      maxUnavailable: { description: 'Pods that may be down at once.', type: ['integer', 'string'] },
    }),
    autoscaling: obj('Autoscaling: an HPA on CPU or a KEDA ScaledObject on queue depth, never both.', {
      enabled: bool('Autoscale (replicas is then ignored).'),
      type: { type: 'string', enum: ['hpa', 'keda'], description: '`hpa` (CPU) or `keda` (queue depth).' },
      minReplicas: int('Fewest replicas (KEDA allows 0).', 0),
      maxReplicas: int('Most replicas.', 1),
      targetCPUUtilizationPercentage: int('HPA CPU target, percent of the request.', 1, { maximum: 100 }),
      keda: obj('KEDA ScaledObject settings.', {
        pollingInterval: int('Seconds between checks.', 1),
        cooldownPeriod: int('Seconds after the last activity before scaling to minReplicas.', 0),
        apps: {
          type: 'array',
          items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
          description:
            'App ids whose `<prefix>:deliver-<app>:wait` list KEDA watches (one redis trigger each).',
        },
        listLength: int('Waiting batches per replica.', 1),
        prometheus: obj('Optional prometheus trigger on the sum of every deliver queue (bullmq_job_count).', {
          serverAddress: str('Prometheus URL; empty = no prometheus trigger.'),
          threshold: int('Waiting batches per replica.', 1),
        }),
      }),
    }),
    service: obj('The Service in front of the pods.', {
      type: { type: 'string', enum: ['ClusterIP', 'NodePort', 'LoadBalancer'], description: 'Service type.' },
      port: int('Service port.', 1, { maximum: 65535 }),
      annotations: stringMap('Service annotations.'),
    }),
    podAnnotations: stringMap('Extra pod annotations.'),
    podLabels: stringMap('Extra pod labels.'),
    nodeSelector: stringMap('Node selector.'),
    tolerations: k8sList('Tolerations.'),
    affinity: k8s('Affinity.'),
    priorityClassName: str('Priority class.'),
    extraEnv: k8sList('Extra container env entries (e.g. PUSHFLEET_WORKER__CONCURRENCY).'),
  });

export function buildValuesSchema(): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Pushfleet Helm chart values',
    ...obj('Pushfleet Helm chart values.', {
      nameOverride: str('Replaces the chart name in object names.'),
      fullnameOverride: str('Replaces the full object name prefix.'),
      image: obj('The Pushfleet image (one image, the command picks the process).', {
        registry: str('Registry host; empty = the runtime default.'),
        repository: str('Repository.', { minLength: 1 }),
        tag: str('Tag; empty = the chart appVersion.'),
        digest: str('sha256 digest; wins over the tag.', { pattern: '^(sha256:[0-9a-f]{64})?$' }),
        pullPolicy: {
          type: 'string',
          enum: ['Always', 'IfNotPresent', 'Never'],
          description: 'Pull policy.',
        },
      }),
      imagePullSecrets: k8sList('Pull secrets ({name: …}).'),
      serviceAccount: obj('The pods\u2019 service account.', {
        create: bool('Create one.'),
        name: str('Name; empty = the release full name.'),
        annotations: stringMap('Annotations (e.g. workload identity).'),
        automountServiceAccountToken: bool('Mount the API token (Pushfleet never calls the Kubernetes API).'),
      }),
      config: obj('The Pushfleet config file (docs/configuration.md).', {
        existingSecret: str('Secret holding the config file; empty = render config.values.'),
        existingSecretKey: str('Key of the config file in existingSecret.', { minLength: 1 }),
        values: {
          type: 'object',
          description: 'Config rendered into a Secret when existingSecret is empty.',
        },
        logLevel: {
          type: 'string',
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
          description: 'log.level of every process.',
        },
      }),
      credentials: obj(
        'APNs keys and certificates, mounted into the workers (and the scheduler, which exports their expiry).',
        {
          existingSecret: str('Secret with the .p8/.p12/.pem files; empty = none mounted.'),
          mountPath: str('Where the files appear; config paths point here.', { pattern: '^/' }),
        },
      ),
      appRegistry: obj('Apps added at run time (admin API), stored in Redis.', {
        keyEncryptionKey: obj(
          'The key their credentials are sealed under (32 random bytes, base64), mounted into every process.',
          {
            existingSecret: str('Secret holding it; empty = none (storing credentials is then refused).'),
            key: str('Key of the key-encryption key in existingSecret.', { minLength: 1 }),
          },
        ),
      }),
      externalRedis: obj('The Redis Pushfleet uses (maxmemory-policy noeviction, AOF recommended).', {
        host: str('Host (standalone).', { minLength: 1 }),
        port: int('Port.', 1, { maximum: 65535 }),
        db: int('Database index.', 0, { maximum: 15 }),
        prefix: str('Key prefix of queues and data.', { minLength: 1 }),
        username: str('ACL user name; empty = default user.'),
        existingSecret: str('Secret holding the password; empty = no password.'),
        existingSecretPasswordKey: str('Key of the password in existingSecret.', { minLength: 1 }),
        tls: obj('TLS to Redis (rediss://).', { enabled: bool('Use TLS.') }),
        sentinel: obj('Redis Sentinel instead of a standalone host.', {
          enabled: bool('Use Sentinel.'),
          masterName: str('Sentinel master name.', { minLength: 1 }),
          hosts: {
            type: 'array',
            description: 'Sentinels: [{host, port}].',
            items: obj('One sentinel.', { host: str('Host.', { minLength: 1 }), port: int('Port.', 1) }, [
              'host',
              'port',
            ]),
          },
        }),
      }),
      podSecurityContext: k8s('Pod security context (non-root 10001, seccomp RuntimeDefault).'),
      containerSecurityContext: k8s('Container security context (read-only root, no capabilities).'),
      api: component('api', 'the HTTP API producers call'),
      worker: component('worker', 'the delivery fleet'),
      scheduler: component('scheduler', 'feedback polling and housekeeping'),
      metrics: obj('Prometheus Operator objects and the Grafana dashboard.', {
        serviceMonitor: obj('ServiceMonitor (rendered only when monitoring.coreos.com/v1 exists).', {
          enabled: bool('Render it.'),
          interval: str('Scrape interval.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
          scrapeTimeout: str('Scrape timeout.', { pattern: '^[0-9]+(ms|s|m|h)$' }),
          labels: stringMap('Extra labels (to match the Prometheus selector).'),
        }),
        prometheusRule: obj('PrometheusRule with the alerts (rendered only when the API exists).', {
          enabled: bool('Render it.'),
          labels: stringMap('Extra labels (to match the Prometheus rule selector).'),
        }),
        dashboard: obj('Grafana dashboard ConfigMap for the Grafana sidecar.', {
          enabled: bool('Render it.'),
          labels: stringMap('Labels the sidecar selects on.'),
          annotations: stringMap('Annotations (e.g. grafana_folder).'),
        }),
      }),
    }),
  };
}
