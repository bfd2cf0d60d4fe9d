// `npm run bench -- --scenario transport|e2e|latency|enqueue|all [--count N] [--json] [--quick]`
// e2e: [--workers 1,2] [--sinks sim,nginx] [--worker-transport lean|node-http2|node-apn] [--profile DIR]
// e2e --rtt MS: one worker at 0 ms and at MS, and the bare node-apn loop at MS, side by side
// latency --rtt MS: single notifications at 500/s with every APNs answer MS late
// fairness [--count N] [--rate R] [--sink-nice N]: app B's singles at R/s (50) while app A drains N
//   tokens (200,000); A's simulator runs at nice N (19: it stands in for APNs on other machines)
// broadcast: 1,000 channels × 10 updates through the API to APNs receipt (bench/scenarios/broadcast.ts)

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { repoRoot } from '@pushfleet/testkit';
import { e2eScenario } from './scenarios/e2e.ts';
import { e2eRttScenario } from './scenarios/e2e-rtt.ts';
import { fairnessScenario } from './scenarios/fairness.ts';
import { latencyScenario } from './scenarios/latency.ts';
import { transportScenario } from './scenarios/transport.ts';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'transport' },
    count: { type: 'string' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1,2' },
    profile: { type: 'string' },
    sinks: { type: 'string' },
    'worker-transport': { type: 'string' },
    rtt: { type: 'string' },
    rate: { type: 'string' },
    'sink-nice': { type: 'string' },
  },
});
const wants = (name: string) => values.scenario === name || values.scenario === 'all';
const log = (line: string) => process.stderr.write(`${line}\n`);
const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
const report: Record<string, unknown> = { date: new Date().toISOString(), machine };
let failed = false;

if (values.quick || wants('transport')) {
  const count = Number(values.count ?? (values.quick ? 20_000 : 100_000));
  const on = (results: Awaited<ReturnType<typeof transportScenario>>, name: string) =>
    results.find((r) => r.sink === 'apns-sim fast' && r.name === name);
  const ourRatio = (results: Awaited<ReturnType<typeof transportScenario>>) =>
    on(results, 'pushfleet')?.ratioToNodeApn ?? 0;
  // CPU per notification relative to node-apn's, in the same run: about 0.1 with Pushfleet's own
  // HTTP/2 client, about 0.9 on node:http2. Above 0.5, the lean client's advantage is gone.
  const ourCpuShare = (results: Awaited<ReturnType<typeof transportScenario>>) =>
    (on(results, 'pushfleet')?.cpuUsPerNotification ?? Number.POSITIVE_INFINITY) /
    (on(results, 'node-apn')?.cpuUsPerNotification ?? 0);
  const regressed = (results: Awaited<ReturnType<typeof transportScenario>>) =>
    ourRatio(results) < 0.8 || ourCpuShare(results) > 0.5;
  log(`transport: ${count} notifications per contender, one process each`);
  let results = await transportScenario(count, log, values.quick ? 2 : 3);
  // The CI gate: a real regression shows in every run; a noisy neighbour does not, so a failing
  // run is measured again (twice at most) before it fails the build.
  for (let retry = 1; values.quick && regressed(results) && retry <= 2; retry++) {
    log(
      `ratio ${ourRatio(results).toFixed(2)} (gate ≥ 0.8), CPU share ${ourCpuShare(results).toFixed(2)} (gate ≤ 0.5): measuring again (${retry}/2)`,
    );
    results = await transportScenario(count, log, 2);
  }
  report.transport = { count, results };
  if (values.quick && regressed(results)) {
    log(
      `REGRESSION: Pushfleet's transport is ${ourRatio(results).toFixed(2)}× the bare node-apn loop (gate ≥ 0.8×) ` +
        `and spends ${ourCpuShare(results).toFixed(2)}× its CPU per notification (gate ≤ 0.5×)`,
    );
    failed = true;
  }
}

const rttMs = values.rtt === undefined ? undefined : Number(values.rtt);

if (!values.quick && rttMs !== undefined && wants('e2e')) {
  report.e2eRtt = await e2eRttScenario(Number(values.count ?? 60_000), rttMs, log);
} else if (values.quick || wants('e2e')) {
  const count = Number(values.count ?? (values.quick ? 50_000 : 1_000_000));
  const workers = values.quick ? [1] : values.workers.split(',').map(Number);
  report.e2e = await e2eScenario(count, workers, log, {
    ...(values.profile && { profileDir: values.profile }),
    ...(values['worker-transport'] && {
      workerTransport: values['worker-transport'] as 'lean' | 'node-http2' | 'node-apn',
    }),
    ...(values.quick && { sinks: ['apns-sim fast'] }),
    ...(values.sinks && {
      sinks: values.sinks.split(',').map((s) => (s === 'nginx' ? 'nginx' : 'apns-sim fast')),
    }),
  });
}

if (!values.quick && wants('enqueue')) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/scenarios/enqueue.ts', '--json'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  report.enqueue = JSON.parse(out.trim().split('\n').at(-1)!);
}

if (!values.quick && wants('broadcast')) {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/scenarios/broadcast.ts', '--json'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  report.broadcast = JSON.parse(out.trim().split('\n').at(-1)!);
}

if (!values.quick && wants('latency')) {
  const seconds = Number(values.count ?? 30);
  const result = await latencyScenario(500, seconds, log, 5, rttMs);
  report.latency = result;
  log(
    `latency at ${result.rate}/s${rttMs ? ` with a ${rttMs} ms RTT` : ''} for ${result.seconds} s: p50 ${result.p50} ms, p90 ${result.p90} ms, p99 ${result.p99} ms, max ${result.max} ms (${result.delivered}/${result.sent} delivered); first ${result.warmupSeconds} s (warm-up): p99 ${result.warmup.p99} ms, max ${result.warmup.max} ms`,
  );
}

if (!values.quick && wants('fairness')) {
  report.fairness = await fairnessScenario(
    Number(values.count ?? 200_000),
    Number(values.rate ?? 50),
    Number(values['sink-nice'] ?? 19),
    log,
  );
}

mkdirSync(`${repoRoot}/bench/results`, { recursive: true });
const name = values.quick ? 'quick' : `${values.scenario}${rttMs !== undefined ? `-rtt${rttMs}` : ''}`;
writeFileSync(`${repoRoot}/bench/results/${name}-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(failed ? 1 : 0);
