/**
 * The dashboard and the alerts against a real Prometheus (Debian's `prometheus` package) that
 * scrapes a running fleet every second while it delivers through rejections, retries, a paused
 * app, an api replica without Redis and a crashed worker (testkit's startObservedFleet). Every
 * panel query and every alert expression goes through Prometheus' HTTP API: each must parse,
 * evaluate and return series; the alerts the scenario provokes must be pending or firing.
 * The panel report is printed with the test output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import {
  dashboardPanelQueries,
  evaluatePanels,
  formatPanelReport,
  type ObservedFleet,
  type PromRule,
  prometheusBinary,
  prometheusMissing,
  randomDeviceTokens,
  startObservedFleet,
  waitFor,
} from '@pushfleet/testkit';
import { parse as parseYaml, stringify } from 'yaml';
import { root } from './tools.ts';

const rulesFile = 'deploy/prometheus/rules/pushfleet.rules.yml';
const dashboardFile = 'deploy/grafana/dashboards/pushfleet.json';

interface RuleGroups {
  groups: Array<{ name: string; rules: Array<{ alert?: string; expr: string; for?: string }> }>;
}

/** The shipped rules with every `for:` cut to 1 s, so a one-minute scenario can see them fire. */
function rulesWithShortFor(): { text: string; alerts: Array<{ alert: string; expr: string }> } {
  const rules = parseYaml(readFileSync(join(root, rulesFile), 'utf8')) as RuleGroups;
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = '1s';
  const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert)) as Array<{
    alert: string;
    expr: string;
  }>;
  return { text: stringify(rules), alerts };
}

const binary = prometheusBinary();
if (!binary && process.env.CI === 'true') throw new Error(`${prometheusMissing}; .ci/run must install it`);
const skip = binary ? false : prometheusMissing;

/** Alerts this scenario makes true, and when (phase 1: traffic; phase 2: the workers are gone). */
const provoked: Record<string, 1 | 2> = {
  PushfleetApnsErrorRatioHigh: 1,
  PushfleetCredentialsFailing: 1,
  PushfleetTargetDown: 1,
  PushfleetNoWorkers: 2,
  PushfleetQueueBacklogGrowing: 2,
  PushfleetCredentialExpiresSoon: 1,
};
/** Alerts a short scenario cannot make true, each with why; their signal must still have series. */
const notProvoked: Record<string, string> = {
  PushfleetFeedbackLag: 'fires after feedback events wait > 15 min; a 1-minute scenario cannot age them',
};

/** The expression without its top-level threshold (`x > 900` → `x`): what the alert watches. */
function signalOf(expr: string): string {
  const tree = parser.parse(expr);
  const top = tree.topNode.firstChild;
  if (top?.name !== 'BinaryExpr') return expr;
  const [left, op, right] = [top.firstChild, top.firstChild?.nextSibling, top.lastChild];
  const comparison = op && /^(Gtr|Lss|Gte|Lte|EqlSingle|Neq)$/.test(op.name);
  if (!left || !right || !comparison || right.name !== 'NumberDurationLiteral') return expr;
  return expr.slice(left.from, left.to);
}

let fleet: ObservedFleet;
const started = Date.now();

before(async () => {
  if (skip) return;
  fleet = await startObservedFleet({ rules: [rulesWithShortFor().text] });
  const { stack } = fleet;
  const mark = (what: string) =>
    process.stdout.write(`# +${(Date.now() / 1000 - fleet.startedAt).toFixed(1)} s: ${what}\n`);
  await fleet.injectFaults();
  // Paced, so its outcomes, retries and reconnects spread over several scrapes.
  const created = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      notification: { alert: { title: 'observed', body: 'campaign' } },
      audience: { kind: 'tokens', tokens: randomDeviceTokens(3000) },
      ratePerSecond: 400,
    }),
  });
  assert.equal(created.status, 202);
  const { campaignId } = (await created.json()) as { campaignId: string };
  await fleet.incidents();
  await waitFor(
    'campaign done',
    async () => {
      const res = await fetch(`${stack.apiUrl}/v1/apps/${stack.appId}/campaigns/${campaignId}`);
      return ((await res.json()) as { state: string }).state === 'done';
    },
    { timeoutMs: 45_000, intervalMs: 200 },
  );
  mark('campaign done');
  await fleet.settle();
  mark('scraped');
});
after(async () => {
  await fleet?.stop();
  process.stdout.write(`# prometheus-live: ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`);
});

const rateWindow = () => `${Math.ceil(Date.now() / 1000 - fleet.startedAt) + 5}s`;

test('every dashboard panel query returns series from the scraped fleet', { skip }, async () => {
  const dashboard = JSON.parse(readFileSync(join(root, dashboardFile), 'utf8'));
  const queries = dashboardPanelQueries(dashboard);
  assert.ok(queries.length >= 30, 'the whole dashboard');
  // $__rate_interval spans the scenario (as a graph over it would); $app/$environment are "All".
  const results = await evaluatePanels(fleet.prom, queries, { rateInterval: rateWindow() });
  process.stdout.write(
    `# dashboard panels against Prometheus ${fleet.prom.url} (rate window ${rateWindow()}):\n` +
      `${formatPanelReport(results)
        .split('\n')
        .map((l) => `#   ${l}`)
        .join('\n')}\n`,
  );
  const errors = results.filter((r) => r.error).map((r) => `${r.panel}: ${r.error}`);
  assert.deepEqual(errors, [], 'Prometheus refused these queries');
  const empty = results.filter((r) => r.series === 0).map((r) => `${r.panel} [${r.refId}] ${r.query}`);
  assert.deepEqual(empty, [], 'panels without data');
  // Not just present: the scenario's events move them.
  const max = (panel: string) => Math.max(...results.filter((r) => r.panel === panel).map((r) => r.max));
  const active = [
    'Accepted /s',
    'Not delivered',
    'Retries scheduled /s',
    'Invalidated tokens /s',
    'Reconnects /s',
    'Errors by code /s',
    'API 5xx /s',
    'Batch duration',
  ];
  for (const panel of active) assert.ok(max(panel) > 0, `${panel} shows activity`);
  assert.equal(max('Apps paused (credentials)'), 1, 'the locked app is paused');
  assert.ok(max('Scrape targets down') >= 1, 'the crashed worker is down');
  // 'Credential errors /s' has its series but stays at 0: the one refusal paused the app (so no
  // second one comes), and a counter's first sample is rate()'s baseline. That is why the alert
  // also watches the pause gauge (see the rules file).
});

const rank = ['inactive', 'pending', 'firing'];
/** Per alert name, the most active state among its rules (one name may have several severities). */
function alertStates(rules: PromRule[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const r of rules.filter((x) => x.type === 'alerting')) {
    const state = r.state ?? 'inactive';
    if (rank.indexOf(state) >= rank.indexOf(states.get(r.name) ?? 'inactive')) states.set(r.name, state);
  }
  return states;
}

test('every alert expression evaluates; those the traffic provokes are pending or firing', {
  skip,
}, async () => {
  const { alerts } = rulesWithShortFor();
  for (const { alert } of alerts) {
    assert.ok(
      alert in provoked || alert in notProvoked,
      `${alert}: say whether the scenario provokes it (and how) or why it cannot`,
    );
  }
  const phase1 = [...new Set(alerts.filter((a) => provoked[a.alert] === 1).map((a) => a.alert))];
  await waitFor(
    `phase-1 alerts active: ${phase1.join(', ')}`,
    async () => {
      const s = alertStates(await fleet.prom.rules());
      return phase1.every((a) => s.get(a) === 'pending' || s.get(a) === 'firing') ? s : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(async (err) => {
    throw new Error(`${err.message}\nstates: ${JSON.stringify([...alertStates(await fleet.prom.rules())])}`);
  });
  for (const { alert, expr } of alerts) {
    if (provoked[alert] === 1) {
      const series = await fleet.prom.query(expr);
      assert.ok(series.length > 0, `${alert}: its expression returns series`);
    }
    if (alert in notProvoked) {
      const signal = signalOf(expr);
      assert.notEqual(signal, expr, `${alert}: a threshold to strip`);
      const series = await fleet.prom.query(signal);
      assert.ok(series.length > 0, `${alert}: ${signal} returns series`);
      process.stdout.write(
        `# ${alert}: not provoked (${notProvoked[alert]}); ${signal} = ${series[0]!.value[1]}\n`,
      );
    }
  }

  assert.ok(fleet.certificateApp, 'the expiring-certificate app needs the openssl command');
  // Phase 2: the last worker goes away while producers keep sending.
  await fleet.stopWorkers(150);
  const phase2 = [...new Set(alerts.filter((a) => provoked[a.alert] === 2).map((a) => a.alert))];
  await waitFor(
    `phase-2 alerts active: ${phase2.join(', ')}`,
    async () => {
      const s = alertStates(await fleet.prom.rules());
      return phase2.every((a) => s.get(a) === 'pending' || s.get(a) === 'firing');
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  ).catch(async (err) => {
    throw new Error(`${err.message}\nstates: ${JSON.stringify([...alertStates(await fleet.prom.rules())])}`);
  });
  const rules = await fleet.prom.rules();
  for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
  const final = alertStates(rules);
  process.stdout.write(
    `# alerts: ${[...final]
      .map(([name, state]) => `${name}=${state}${name in notProvoked ? ' (not provoked)' : ''}`)
      .join(', ')}\n`,
  );
});
