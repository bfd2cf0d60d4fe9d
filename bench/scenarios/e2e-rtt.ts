// e2e at a round trip: throughput where APNs is tens of milliseconds away and streams in flight,
// not CPU, set the rate. Side by side in one run, all against the same kind of sink (the
// validating simulator with APNs' one-stream start, `--token-initial-streams 1`):
//   - one worker at 0 ms (the fleet's own ceiling on this machine),
//   - one worker with every answer `rttMs` late (the self-sizing pool at work),
//   - one worker at `rttMs` with a fixed single connection (`connections: 1`, the old default),
//   - the bare @parse/node-apn loop at `rttMs`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateProviderKey, repoRoot } from '@pushfleet/testkit';
import { simulatorRttSink } from '../lib/sinks.ts';
import { runFleet } from './e2e.ts';
import { runContender } from './transport.ts';

const simulatorArgs = ['--token-initial-streams', '1'];

async function bareAtRtt(count: number, rttMs: number) {
  const key = generateProviderKey();
  const sink = await simulatorRttSink(rttMs, key);
  const dir = mkdtempSync(join(tmpdir(), 'pushfleet-bare-'));
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem);
  try {
    return runContender('node-apn', sink, keyFile, key, count);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function e2eRttScenario(count: number, rttMs: number, log: (line: string) => void) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'ignore' });
  const fleet = (latencyMs: number, connections?: number) =>
    runFleet(1, count, 'apns-sim', {
      simulatorArgs,
      // The production default: at a round trip, jobs in flight × slice size bound the rate.
      workerConcurrency: null,
      latencyMs,
      ...(connections !== undefined && { connections }),
    });
  const describe = (r: Awaited<ReturnType<typeof fleet>>) =>
    `${Math.round(r.perSecond)}/s, ${r.workerCpuUsPerNotification.toFixed(1)} CPU-µs/notification, exactly once: ${r.exactlyOnce}`;

  log(
    `e2e --rtt ${rttMs}: ${count} tokens per run, one worker, simulator validating with --token-initial-streams 1`,
  );
  const zero = await fleet(0);
  log(`  worker at 0 ms: ${describe(zero)}`);
  const atRtt = await fleet(rttMs);
  log(`  worker at ${rttMs} ms (self-sizing pool): ${describe(atRtt)}`);
  const fixed = await fleet(rttMs, 1);
  log(`  worker at ${rttMs} ms, connections: 1: ${describe(fixed)}`);
  const bare = await bareAtRtt(count, rttMs);
  log(
    `  bare node-apn at ${rttMs} ms: ${Math.round(bare.perSecond)}/s (${bare.accepted}/${bare.sent} accepted), ${bare.cpuUsPerNotification.toFixed(1)} CPU-µs/notification`,
  );
  const result = {
    rttMs,
    count,
    zero,
    atRtt,
    fixedOneConnection: fixed,
    bare,
    /** Targets: ≥ 0.8 and ≥ 5. */
    ratioToZero: atRtt.perSecond / zero.perSecond,
    ratioToBare: atRtt.perSecond / bare.perSecond,
    ratioToFixedOneConnection: atRtt.perSecond / fixed.perSecond,
  };
  log(
    `  at ${rttMs} ms one worker keeps ${(result.ratioToZero * 100).toFixed(0)}% of its 0 ms rate (target ≥ 80%), ` +
      `${result.ratioToBare.toFixed(2)}× the bare node-apn loop (target ≥ 5×), ` +
      `${result.ratioToFixedOneConnection.toFixed(2)}× a fixed single connection`,
  );
  return result;
}
