/**
 * Dockerfile, .dockerignore, docker-compose.yml and the demo stack's Prometheus/Grafana wiring,
 * checked without a Docker engine: dclint (compose-spec schema + best practices) and structure.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { promtool, root, run } from './tools.ts';

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Record<string, unknown>>;
  volumes: Record<string, unknown>;
};
const pushfleetServices = ['api', 'worker', 'scheduler', 'apns-sim', 'demo-init', 'demo-traffic'];

test('dclint: docker-compose.yml has no errors and no warnings', () => {
  // deploy/compose/dclint.json: ports in double quotes, the way biome formats YAML.
  const out = run(join(root, 'node_modules/.bin/dclint'), [
    '-c',
    'deploy/compose/dclint.json',
    'docker-compose.yml',
    '--formatter',
    'json',
  ]);
  const problems = JSON.parse(out) as Array<{ messages: unknown[] }>;
  assert.deepEqual(
    problems.flatMap((p) => p.messages),
    [],
  );
});

test('compose: Redis keeps jobs (noeviction, AOF every second)', () => {
  const command = (compose.services.redis!.command as string[]).join(' ');
  assert.match(command, /--maxmemory-policy noeviction/);
  assert.match(command, /--appendonly yes/);
  assert.match(command, /--appendfsync everysec/);
});

test('compose: pushfleet containers run hardened and the worker scales', () => {
  for (const name of pushfleetServices) {
    const service = compose.services[name]!;
    assert.ok(service, name);
    assert.equal(service.read_only, true, `${name} read_only`);
    assert.deepEqual(service.cap_drop, ['ALL'], `${name} cap_drop`);
    assert.deepEqual(service.tmpfs, ['/tmp'], `${name} tmpfs /tmp`);
    if (name !== 'demo-init')
      assert.equal(service.user, undefined, `${name} runs as the image's non-root user`);
  }
  const worker = compose.services.worker!;
  assert.equal(worker.container_name, undefined, 'a fixed container name prevents --scale');
  assert.equal(worker.ports, undefined, 'a host port prevents --scale');
  assert.match(String(worker.stop_grace_period), /^\d+s$/);
  assert.ok(Number.parseInt(String(worker.stop_grace_period), 10) > 30, 'grace above shutdownGraceMs');
  for (const name of ['api', 'worker', 'scheduler', 'apns-sim']) {
    assert.ok(
      String(compose.services[name]!.command?.toString()).startsWith(name),
      `${name} is started through the entrypoint`,
    );
  }
});

test('compose: Prometheus scrapes every app and Grafana gets the dashboard', () => {
  const prom = parseYaml(read('deploy/prometheus/prometheus.yml')) as {
    scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
  };
  const targets = Object.fromEntries(
    prom.scrape_configs.flatMap((job) => (job.dns_sd_configs ?? []).map((sd) => [sd.names[0], sd.port])),
  );
  assert.deepEqual(targets, { api: 8080, worker: 9091, scheduler: 9092 });
  const volumes = (compose.services.grafana!.volumes as string[]).map((v) => v.split(':')[0]!);
  for (const path of volumes.filter((v) => v.startsWith('./'))) assert.ok(existsSync(join(root, path)), path);
  assert.ok(existsSync(join(root, 'deploy/grafana/dashboards/pushfleet.json')));
});

test('promtool check config: the demo Prometheus config', { skip: promtool.skip }, () => {
  run(promtool.path!, ['check', 'config', '--syntax-only', 'deploy/prometheus/prometheus.yml']);
});

test('Dockerfile: multi-stage, production deps only, non-root, healthcheck, entrypoint', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
  assert.ok(stages.length >= 3, 'manifests, deps and runtime stages');
  assert.match(dockerfile, /npm ci --omit=dev/);
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
  assert.ok(user && Number(user[1]) > 0, 'USER is numeric and not root');
  assert.match(runtime, /^HEALTHCHECK .+\n\s+CMD \["node", "\/app\/scripts\/ops\/healthcheck\.mjs"\]/m);
  assert.match(runtime, /^ENTRYPOINT \["\/app\/scripts\/ops\/entrypoint\.sh"\]$/m);
  assert.doesNotMatch(runtime, /^COPY (--\S+ )*\. /m, 'the runtime stage copies only what it runs');
  const ignore = read('.dockerignore').split('\n');
  for (const entry of ['**/node_modules', '.git', '.tools', '**/*.p8', '**/*.pem', 'tests']) {
    assert.ok(ignore.includes(entry), `.dockerignore lists ${entry}`);
  }
});
