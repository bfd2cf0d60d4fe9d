import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { repoRoot } from '@pushfleet/testkit';

test("the README's demo command delivers every notification and prints a parseable summary", async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'apps/cli/src/main.ts', 'demo', '--count', '3000', '--json'],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr.slice(-2000));
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout holds only the JSON summary');
  const summary = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(summary).sort(), [
    'accepted',
    'delivered',
    'failed',
    'perSecond',
    'rejected',
    'seconds',
  ]);
  assert.deepEqual(
    [summary.accepted, summary.delivered, summary.rejected, summary.failed],
    [3000, 3000, 0, 0],
  );
  assert.ok(summary.seconds > 0 && summary.perSecond > 0);
  assert.equal(summary.perSecond, Math.round(summary.delivered / summary.seconds));
});
