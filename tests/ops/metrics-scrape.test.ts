/**
 * A real scrape: api, worker and scheduler run as processes (testkit's startStack) against Redis
 * and the simulator, deliver a few notifications, and each /metrics is linted with
 * `promtool check metrics`. Findings must be on the documented allow-list (docs/metrics.md);
 * every metric name must be in the catalogue docs; the served OpenAPI document is the one
 * docs/api.md is generated from.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';
import {
  catalogue,
  extraMetrics,
  plannedMetrics,
  promtoolAllowList,
} from '../../scripts/ops/metric-catalogue.ts';
import { promtool, root } from './tools.ts';

let redis: StartedRedis;
let stack: Stack;
const scrapes: Record<string, string> = {};

before(async () => {
  redis = await startRedis();
  stack = await startStack({ redisUrl: redis.url, prefix: `ops-metrics-${process.pid}-${Date.now()}` });
  const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      tokens: randomDeviceTokens(3),
      notification: { alert: { title: 'ops', body: 'scrape' } },
    }),
  });
  const body = await res.text();
  assert.equal(res.status, 202, body);
  const { id } = JSON.parse(body) as { id: string };
  await waitFor(
    'delivered',
    async () => {
      const status = (await (
        await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/notifications/${id}`)
      ).json()) as {
        delivered: number;
      };
      return status.delivered === 3;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  for (const [name, port] of Object.entries(stack.opsPorts)) {
    scrapes[name] = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  }
});
after(async () => {
  await stack?.stop();
  await redis?.stop();
});

for (const app of ['api', 'worker', 'scheduler']) {
  test(`promtool check metrics: ${app} /metrics has only allow-listed findings`, {
    skip: promtool.skip,
  }, () => {
    const text = scrapes[app]!;
    assert.match(text, /^# TYPE pushfleet_/m);
    const result = spawnSync(promtool.path!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings = `${result.stdout}\n${result.stderr}`
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const unexpected = findings.filter(
      (line) => !promtoolAllowList.some((a) => line.startsWith(`${a.metric} `) && line.includes(a.finding)),
    );
    assert.deepEqual(unexpected, [], `${app}: findings not on the allow-list (docs/metrics.md)`);
  });
}

test('every scraped metric is in the catalogue and documented in docs/metrics.md', async () => {
  const known = new Set([...(await catalogue()), ...extraMetrics, ...plannedMetrics].map((m) => m.name));
  const doc = readFileSync(join(root, 'docs/metrics.md'), 'utf8');
  for (const [app, text] of Object.entries(scrapes)) {
    for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) {
      assert.ok(
        known.has(name!),
        `${app} exposes ${name}, which is neither in the catalogue nor in extraMetrics`,
      );
      assert.ok(doc.includes(`\`${name}\``), `docs/metrics.md lists ${name}`);
    }
  }
  assert.match(scrapes.worker!, /^pushfleet_notifications_total\{.*outcome="delivered".*\} 3$/m);
});

test('the served OpenAPI document is the one docs/api.md is generated from', async () => {
  const res = await fetch(`${stack.apiUrl}/docs/json`);
  if (res.status === 404) return; // docs/api.md then says the document does not exist yet
  const { buildOpenApi } = await import('../../apps/api/src/openapi.ts');
  assert.deepEqual(await res.json(), await buildOpenApi());
});
