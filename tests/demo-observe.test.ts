import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { prometheusBinary, prometheusMissing, repoRoot } from '@pushfleet/testkit';

const skip = prometheusBinary() ? false : prometheusMissing;

test('demo --observe: Prometheus scrapes the demo fleet and every dashboard panel has data', {
  skip,
  timeout: 180_000,
}, async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/cli/src/main.ts', 'demo', '--observe', '--count', '2000', '--json'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr.slice(-2000));
  const out = JSON.parse(stdout) as {
    accepted: number;
    delivered: number;
    rejected: number;
    failed: number;
    prometheus: string;
    panels: Array<{ panel: string; refId: string; series: number; error?: string }>;
    alerts: string[];
  };
  assert.equal(out.accepted, 2000);
  assert.equal(out.delivered + out.rejected + out.failed, 2000, 'every notification accounted for');
  assert.ok(out.rejected > 0, 'the injected dead tokens are rejected');
  assert.match(out.prometheus, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(out.panels.length >= 30, 'the whole dashboard');
  assert.deepEqual(
    out.panels.filter((p) => p.error || p.series === 0).map((p) => `${p.panel} [${p.refId}]`),
    [],
    'panels without data',
  );
  // With the shipped `for:` durations the alerts are pending after a few seconds, not firing.
  for (const alert of ['PushfleetApnsErrorRatioHigh', 'PushfleetTargetDown'])
    assert.ok(
      out.alerts.some((a) => a.startsWith(`${alert} `)),
      `${alert} is active: ${out.alerts}`,
    );
});
