import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, type Stack, type StartedRedis, startRedis, startStack } from '@pushfleet/testkit';

// The README's Live Activity example ("A match"), line by line, against a real fleet (api and
// worker processes, the simulator): what the README shows is what works.

let redis: StartedRedis;
let stack: Stack;

before(async () => {
  redis = await startRedis();
  stack = await startStack({ redisUrl: redis.url, prefix: `test-${randomUUID()}`, apps: ['api', 'worker'] });
});

after(async () => {
  await stack?.stop();
  await redis?.stop();
});

/** The `npm run pushfleet -- …` lines between the README's live-example markers. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = readme.slice(
    readme.indexOf('<!-- live-example:start -->'),
    readme.indexOf('<!-- live-example:end -->'),
  );
  return block
    .split('\n')
    .filter((line) => line.startsWith('npm run pushfleet -- '))
    .map((line) => line.replace('npm run pushfleet -- ', ''));
}

function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `${process.execPath} --import tsx apps/cli/src/main.ts ${command}`], {
      cwd: repoRoot,
      env: { ...process.env, PF_URL: stack.apiUrl, PF_APP: stack.appId },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('the README match runs as written: channel, push-to-start with inputPushChannel, broadcasts, end, delete', async () => {
  const commands = readmeCommands();
  assert.equal(commands.length, 7, 'the example has its seven commands');
  const outputs: string[] = [];
  for (const command of commands) {
    const run = await sh(command);
    assert.equal(run.code, 0, `${command}\n${run.stdout}${run.stderr}`);
    outputs.push(run.stdout.trim());
  }
  assert.match(outputs[0]!, /^created match-1842 /);
  assert.match(outputs[2]!, /^start: delivered 1\/1/);
  for (const i of [3, 4, 5]) assert.match(outputs[i]!, /^broadcast delivered/);
  assert.equal(outputs[6], 'deleted match-1842');

  const [channel] = await stack.sim.control.channels(stack.bundleId);
  assert.ok(channel?.deletedAt, 'the channel was deleted at APNs');
  const token = /live register-start ([0-9a-f]{64})/.exec(commands.join('\n'))![1]!;
  const [start] = await stack.sim.control.deliveries(token);
  assert.ok(start, 'the start reached the token');
  const aps = (start.payload as { aps: Record<string, unknown> }).aps;
  assert.equal(aps['input-push-channel'], channel.channelId);
  assert.deepEqual(aps['content-state'], { home: 0, away: 0, minute: 0 });
  const broadcasts = (await stack.sim.control.broadcasts(channel.channelId)).map(
    (b) => (b.payload as { aps: Record<string, unknown> }).aps,
  );
  assert.deepEqual(
    broadcasts.map((a) => [a.event, a['content-state']]),
    [
      ['update', { home: 1, away: 0, minute: 12 }],
      ['update', { home: 1, away: 1, minute: 40 }],
      ['end', { home: 2, away: 1, minute: 90 }],
    ],
  );
  assert.deepEqual(broadcasts[1]?.alert, { title: 'Goal', body: 'Nantes equalise' });
  const dismissal = Number(broadcasts[2]?.['dismissal-date']);
  assert.ok(Math.abs(dismissal - (Date.now() / 1000 + 1800)) < 120, `dismissal-date ${dismissal}`);
});

test('usage and API errors: exit 2 for a bad command line, 1 with the PF_ERR_ code for a refusal', async () => {
  const usage = await sh("broadcast match-0 --state 'not json'");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--state must be a JSON object/);
  const missing = await sh('channels show nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /PF_ERR_NOT_FOUND/);
  const dismissal = await sh(`live update --activity a1 --state '{}' --dismissal-date now`);
  assert.equal(dismissal.code, 1);
  assert.match(dismissal.stderr, /PF_ERR_VALIDATION.*dismissalDate/);
});
