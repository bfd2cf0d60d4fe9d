/**
 * Grafana dashboard and Prometheus alerts: every query parses (lezer-promql and Prometheus's own
 * parser through promtool), names only metrics and labels that exist (the catalogue read from
 * prom-client, plus the documented extra and planned names), and the alerts pass their unit tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { dashboardQueries } from '../../scripts/ops/dashboard.ts';
import { catalogue, extraMetrics, plannedMetrics, targetLabels } from '../../scripts/ops/metric-catalogue.ts';
import { parsePromql, substituteGrafanaVariables } from './promql.ts';
import { promtool, root, run } from './tools.ts';

const rulesFile = 'deploy/prometheus/rules/pushfleet.rules.yml';
const rules = parseYaml(readFileSync(join(root, rulesFile), 'utf8')) as {
  groups: Array<{ rules: Array<{ alert: string; expr: string; labels: Record<string, string> }> }>;
};
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/pushfleet.json'), 'utf8'));

async function knownMetrics(): Promise<Map<string, string[]>> {
  const known = new Map<string, string[]>([['up', []]]);
  for (const m of [...(await catalogue()), ...extraMetrics, ...plannedMetrics]) {
    const names = m.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name];
    for (const name of names)
      known.set(name, m.type === 'histogram' && name.endsWith('_bucket') ? [...m.labels, 'le'] : m.labels);
  }
  return known;
}

function checkSelectors(where: string, expr: string, known: Map<string, string[]>): void {
  for (const { metric, labels } of parsePromql(expr)) {
    const allowed = known.get(metric);
    assert.ok(allowed, `${where}: unknown metric ${metric}`);
    for (const label of labels) {
      assert.ok(
        allowed.includes(label) || targetLabels.includes(label),
        `${where}: metric ${metric} has no label ${label}`,
      );
    }
  }
}

test('dashboard: every query parses and names existing metrics and labels', async () => {
  const known = await knownMetrics();
  const queries = dashboardQueries();
  assert.ok(queries.length >= 30, 'the dashboard covers the catalogue');
  for (const { panel, expr } of queries)
    checkSelectors(`panel "${panel}"`, substituteGrafanaVariables(expr), known);
});

test('dashboard: structure Grafana accepts (unique ids, grid inside 24 columns, datasource variable)', () => {
  assert.equal(dashboard.uid, 'pushfleet');
  const ids = dashboard.panels.map((p: { id: number }) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const panel of dashboard.panels) {
    assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits the grid`);
    if (panel.type === 'row') continue;
    assert.equal(panel.datasource.uid, '$' + '{datasource}');
    assert.ok(panel.targets.length > 0 && panel.description, `${panel.title} has queries and a description`);
  }
  const variables = dashboard.templating.list.map((v: { name: string }) => v.name);
  assert.deepEqual(variables, ['datasource', 'app', 'environment']);
  const titles = dashboard.panels.map((p: { title: string }) => p.title).join(' | ');
  for (const topic of [
    /Outcomes/,
    /by reason/,
    /latency/,
    /Queue depth/,
    /Queue wait/,
    /connections/,
    /In-flight/,
    /Retries/,
    /Invalidated/,
    /Errors by code/,
    /CPU/,
  ]) {
    assert.match(titles, topic);
  }
});

test('alerts: every rule names existing metrics and labels, with severity and runbook', async () => {
  const known = await knownMetrics();
  const alerts = rules.groups.flatMap((g) => g.rules);
  const names = alerts.map((a) => a.alert);
  for (const required of [
    'PushfleetQueueBacklogGrowing',
    'PushfleetApnsErrorRatioHigh',
    'PushfleetCredentialsFailing',
    'PushfleetFeedbackLag',
    'PushfleetNoWorkers',
  ]) {
    assert.ok(names.includes(required), required);
  }
  const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
  for (const alert of alerts) {
    checkSelectors(`alert ${alert.alert}`, alert.expr, known);
    assert.match(alert.labels.severity ?? '', /^(warning|critical)$/);
    assert.ok(runbook.includes(`## ${alert.alert}`), `docs/runbook.md has a section for ${alert.alert}`);
  }
});

test('promtool check rules: the alert rules, and the dashboard queries as throw-away rules', {
  skip: promtool.skip,
}, () => {
  run(promtool.path!, ['check', 'rules', rulesFile]);
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-dashboard-rules-'));
  try {
    const file = join(dir, 'dashboard.rules.yml');
    const recordRules = dashboardQueries().map(({ expr }, i) => ({
      record: `pushfleet:dashboard_query_${i}`,
      expr: substituteGrafanaVariables(expr),
    }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: recordRules }] }));
    run(promtool.path!, ['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('promtool test rules: alert unit tests', { skip: promtool.skip }, () => {
  const out = run(promtool.path!, ['test', 'rules', 'deploy/prometheus/tests/pushfleet.rules.test.yml']);
  assert.match(out, /SUCCESS/);
});
