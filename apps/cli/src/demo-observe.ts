import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PushfleetClient } from '@pushfleet/client';
import {
  dashboardPanelQueries,
  evaluatePanels,
  formatPanelReport,
  type ObservedFleet,
  repoRoot,
  startObservedFleet,
} from '@pushfleet/testkit';
import {
  type DemoOptions,
  generatedTokens,
  progress,
  progressLine,
  serveUntilSignal,
  summarize,
} from './demo.ts';

const rulesFile = 'deploy/prometheus/rules/pushfleet.rules.yml';
const dashboardFile = 'deploy/grafana/dashboards/pushfleet.json';

/** Active alerts (pending or firing) of the shipped rules, by name. */
async function activeAlerts(fleet: ObservedFleet): Promise<string[]> {
  const rules = await fleet.prom.rules();
  const active = rules
    .filter((r) => r.type === 'alerting' && r.state && r.state !== 'inactive')
    .map((r) => `${r.name} (${r.state})`);
  return [...new Set(active)];
}

/**
 * `demo --observe`: the demo campaign on a fleet that Prometheus scrapes every second, with the
 * shipped alert rules, while the fleet lives through the incidents an SRE's dashboard is for
 * (testkit's startObservedFleet: APNs faults and retries, dead tokens, a paused app, an api
 * replica cut off from Redis, a crashed worker, a certificate about to expire). Then every panel
 * query of the shipped dashboard runs against Prometheus, one line per panel.
 */
export async function runObservedDemo(options: DemoOptions): Promise<number> {
  progress('starting fleet and Prometheus…');
  const fleet = await startObservedFleet({ rules: [readFileSync(join(repoRoot, rulesFile), 'utf8')] });
  try {
    const { stack } = fleet;
    const client = new PushfleetClient({ baseUrl: stack.apiUrl });
    await fleet.injectFaults();
    const startedAt = Date.now();
    // Paced over ~10 s so every panel has several scrapes of it.
    const { campaignId } = await client.uploadCampaign(
      stack.appId,
      {
        name: 'demo (observed)',
        notification: { alert: { title: 'Pushfleet demo', body: 'Hello from the fleet' } },
        ratePerSecond: Math.max(200, Math.ceil(options.count / 10)),
      },
      () => generatedTokens(options.count),
    );
    const [final] = await Promise.all([
      client.waitForCampaign(stack.appId, campaignId, {
        intervalMs: 200,
        onProgress: (s) => progress(progressLine(s, startedAt)),
      }),
      fleet.incidents(),
    ]);
    process.stderr.write('\n');
    progress('waiting for the last scrapes…');
    await fleet.settle();
    process.stderr.write('\n');
    const summary = summarize(final, startedAt);
    const rateInterval = `${Math.ceil(Date.now() / 1000 - fleet.startedAt) + 5}s`;
    const dashboard = JSON.parse(readFileSync(join(repoRoot, dashboardFile), 'utf8'));
    const panels = await evaluatePanels(fleet.prom, dashboardPanelQueries(dashboard), { rateInterval });
    const alerts = await activeAlerts(fleet);
    const withData = panels.filter((p) => p.series > 0).length;
    if (options.json) {
      const rows = panels.map(({ panel, refId, query, series, max, error }) => ({
        panel,
        refId,
        query,
        series,
        max: Number.isNaN(max) ? null : max,
        ...(error ? { error } : {}),
      }));
      process.stdout.write(
        `${JSON.stringify({ ...summary, prometheus: fleet.prom.url, panels: rows, alerts })}\n`,
      );
    } else {
      process.stdout.write(
        `delivered ${summary.delivered} of ${summary.accepted} (rejected ${summary.rejected}, failed ${summary.failed}) ` +
          `in ${summary.seconds} s, through the injected faults\n` +
          `prometheus: ${fleet.prom.url}  (graph: ${fleet.prom.url}/graph, alerts: ${fleet.prom.url}/alerts)\n` +
          `dashboard ${dashboardFile}: ${withData} of ${panels.length} panel queries have data ` +
          `(rate window ${rateInterval})\n${formatPanelReport(panels)}\n` +
          `alerts pending or firing (shipped rules, real "for:" durations): ${alerts.join(', ') || 'none yet'}\n`,
      );
    }
    if (options.serve) {
      await serveUntilSignal(
        stack,
        `  prometheus: ${fleet.prom.url}  (scrapes the fleet every second; the shipped alert rules loaded)\n`,
      );
    }
    const accountedFor = summary.delivered + summary.rejected + summary.failed === summary.accepted;
    return accountedFor && summary.accepted === options.count ? 0 : 1;
  } finally {
    await fleet.stop();
  }
}
