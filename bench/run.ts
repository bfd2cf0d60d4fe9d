// `npm run bench -- --scenario transport|e2e|latency|enqueue|all [--count N] [--json] [--quick]`
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { repoRoot } from '@pushfleet/testkit';
import { latencyScenario } from './scenarios/latency.ts';
import { transportScenario } from './scenarios/transport.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'transport' },
    count: { type: 'string' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
const report: Record<string, unknown> = { date: new Date().toISOString(), machine };
let failed = false;

if (values.quick || values.scenario === 'transport' || values.scenario === 'all') {
  const count = Number(values.count ?? (values.quick ? 20_000 : 100_000));
  log(`transport: ${count} notifications per contender, one process each`);
  const results = await transportScenario(count, log, values.quick ? 2 : 3);
  report.transport = { count, results };
  const onSim = results.filter((r) => r.sink === 'apns-sim fast');
  const ours = onSim.find((r) => r.name === 'pushfleet')!;
  if (values.quick && (ours.ratioToNodeApn ?? 0) < 0.8) {
    log(
      `REGRESSION: Pushfleet's transport is ${ours.ratioToNodeApn?.toFixed(2)}× the bare node-apn loop (< 0.8×)`,
    );
    failed = true;
  }
}

if (!values.quick && (values.scenario === 'latency' || values.scenario === 'all')) {
  const seconds = Number(values.count ?? 30);
  const result = await latencyScenario(500, seconds, log);
  report.latency = result;
  log(`latency at ${result.rate}/s for ${result.seconds} s: p50 ${result.p50} ms, p90 ${result.p90} ms, p99 ${result.p99} ms, max ${result.max} ms (${result.delivered}/${result.sent} delivered)`);
}

mkdirSync(`${repoRoot}/bench/results`, { recursive: true });
const name = values.quick ? 'quick' : values.scenario;
writeFileSync(`${repoRoot}/bench/results/${name}-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(failed ? 1 : 0);
