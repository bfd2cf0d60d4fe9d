import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PushfleetClient } from '@pushfleet/client';
import type { SendResult } from '@pushfleet/core';
import { createRedis } from '@pushfleet/queue';
import { FakeTransport, repoRoot, type StartedRedis, startRedis } from '@pushfleet/testkit';
import type { Redis } from 'ioredis';
import { startTestApi, type TestApi, token } from '../../api/tests/helpers.ts';
import { startInProcessWorker } from '../../worker/tests/in-process-worker.ts';

/** `pushfleet campaign report ID > failed.csv` against the api on a real port. */
let server: StartedRedis;
let t: TestApi;
let url: string;
let dir: string;
let workerRedis: Redis;
let campaignId: string;
const tokens = Array.from({ length: 3000 }, (_, i) => token(i + 1));
const dead = tokens.filter((x) => Number.parseInt(x, 16) % 20 === 0);

before(async () => {
  server = await startRedis();
  t = await startTestApi({}, { redisServer: server });
  url = await t.api.listen({ host: '127.0.0.1', port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-cli-report-'));
  workerRedis = createRedis(server.url, 'worker');
  await workerRedis.connect();
  const client = new PushfleetClient({ baseUrl: url });
  ({ campaignId } = await client.createCampaign('demo', {
    notification: { alert: 'report' },
    audience: { kind: 'tokens', tokens },
  }));
  const worker = await startInProcessWorker({
    redis: workerRedis,
    prefix: t.prefix,
    apps: ['demo'],
    transport: new FakeTransport(
      (tok): SendResult =>
        Number.parseInt(tok, 16) % 20 === 0
          ? { kind: 'rejected', status: 400, reason: 'BadDeviceToken' }
          : { kind: 'accepted', apnsId: undefined },
    ),
  });
  try {
    await client.waitForCampaign('demo', campaignId, { intervalMs: 50, timeoutMs: 30_000 });
  } finally {
    await worker.close();
  }
});
after(async () => {
  await t.close();
  workerRedis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI with stdout redirected to `file`, as a shell's `> file` does. */
function cliTo(file: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = openSync(file, 'w');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, PF_URL: url, PF_APP: 'demo' },
      stdio: ['ignore', out, 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => {
      closeSync(out);
      resolve({ code: code ?? -1, stderr });
    });
  });
}

test('campaign report ID > failed.csv: a CSV of every token not delivered', async () => {
  const file = join(dir, 'failed.csv');
  const run = await cliTo(file, ['campaign', 'report', campaignId]);
  assert.equal(run.code, 0, run.stderr);
  const rows = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(rows[0], 'token,outcome,reason,time');
  const cells = rows.slice(1).map((r) => r.split(','));
  assert.deepEqual(cells.map((c) => c[0]).sort(), [...dead].sort());
  assert.ok(cells.every((c) => c[1] === 'rejected' && c[2] === 'BadDeviceToken' && Date.parse(c[3]!) > 0));
  assert.match(run.stderr, new RegExp(`^${dead.length} tokens not delivered$`, 'm'));
});

test('campaign report --format ndjson; a bad format is a usage error; an unknown id exits 1', async () => {
  const file = join(dir, 'failed.ndjson');
  const run = await cliTo(file, ['campaign', 'report', campaignId, '--format', 'ndjson', '--app', 'demo']);
  assert.equal(run.code, 0, run.stderr);
  const lines = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { token: string; outcome: string });
  assert.deepEqual(lines.map((l) => l.token).sort(), [...dead].sort());

  const bad = await cliTo(join(dir, 'x'), ['campaign', 'report', campaignId, '--format', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--format is csv or ndjson/);
  const missing = await cliTo(join(dir, 'y'), ['campaign', 'report', 'no-such-campaign']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /PF_ERR_NOT_FOUND/);
});
