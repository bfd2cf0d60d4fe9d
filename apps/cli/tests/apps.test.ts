// `pushfleet apps …` as an operator runs it: the real CLI process against the real api (registry
// apps served), credentials from files made at run time, passphrases from the environment only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '@pushfleet/testkit';
import { hashApiKeySha256 } from '../../api/src/auth.ts';
import { certificateUpload, p12Upload, secretsOf, tokenUpload } from '../../api/tests/credentials.ts';
import { startTestApi, type TestApi } from '../../api/tests/helpers.ts';

const adminKey = 'k-admin-0123456789';
const senderKey = 'k-sender-0123456789';

let t: TestApi;
let url: string;
let dir: string;
const outputs: string[] = [];
const secrets: string[] = [];

before(async () => {
  t = await startTestApi(
    {
      keys: [
        { id: 'admin', hash: hashApiKeySha256(adminKey), apps: ['*'], permissions: ['admin'] },
        { id: 'sender', hash: hashApiKeySha256(senderKey), apps: ['*'], permissions: ['send'] },
      ],
    },
    { registry: { kek: randomBytes(32), pollMs: 200 } },
  );
  url = await t.api.listen({ host: '127.0.0.1', port: 0 });
  dir = mkdtempSync(join(tmpdir(), 'pushfleet-cli-apps-'));
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'apps', ...args], {
      cwd: repoRoot,
      env: { ...process.env, PF_URL: url, PF_API_KEY: adminKey, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('exit', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

test('apps add (.p8), list, show, rotate (.p12, then PEM pair), disable, enable, delete', async () => {
  const key = tokenUpload();
  secrets.push(...secretsOf(key));
  const p8 = file('AuthKey.p8', key.keyPem);
  const added = await cli([
    'add',
    'news',
    '--bundle-id',
    'com.example.news',
    '--environments',
    'sandbox,production',
    '--p8',
    p8,
    '--key-id',
    key.keyId,
    '--team-id',
    key.teamId,
    '--json',
  ]);
  assert.equal(added.code, 0, added.stderr);
  const result = JSON.parse(added.stdout);
  assert.deepEqual(
    [result.app.id, result.app.source, result.app.credentials.keyId],
    ['news', 'registry', key.keyId],
  );
  assert.deepEqual(result.app.settings.environments, ['sandbox', 'production']);

  const listed = await cli(['list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^news\s+registry\s+active\s+token\s+never$/m);
  assert.match(listed.stdout, /^demo\s+config\s+active/m);
  const shown = await cli(['show', 'news']);
  assert.match(shown.stdout, new RegExp(`token key ${key.keyId}, team ${key.teamId}`));
  assert.match(shown.stdout, /^expiry: sandbox never, production never$/m);

  const p12 = p12Upload(['com.example.news'], 'cli-p12-passphrase-7');
  secrets.push(...secretsOf(p12.upload, { keyPem: p12.keyPem }));
  const p12File = file('push.p12', Buffer.from(p12.upload.pfx, 'base64'));
  const rotated = await cli(['rotate', 'news', '--p12', p12File, '--passphrase-env', 'NEWS_P12_PASS'], {
    NEWS_P12_PASS: p12.upload.passphrase,
  });
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /^rotated news \(registry, active/m);
  assert.match(rotated.stdout, /certificate .*com\.example\.news/);
  assert.match(rotated.stdout, /expires \d{4}-\d\d-\d\dT.* \(in 3\d\d days\)/);
  assert.match(rotated.stdout, /^expiry: sandbox \d{4}-\d\d-\d\d, production \d{4}-\d\d-\d\d$/m);

  const pem = certificateUpload(['com.example.news']);
  secrets.push(...secretsOf(pem));
  const rotatedPem = await cli([
    'rotate',
    'news',
    '--cert',
    file('cert.pem', pem.certPem),
    '--key',
    file('key.pem', pem.keyPem),
    '--json',
  ]);
  assert.equal(rotatedPem.code, 0, rotatedPem.stderr);
  assert.equal(JSON.parse(rotatedPem.stdout).app.credentials.type, 'certificate');

  assert.match((await cli(['disable', 'news'])).stdout, /news is disabled/);
  assert.match((await cli(['enable', 'news'])).stdout, /news is active/);
  const deleted = await cli(['delete', 'news']);
  assert.deepEqual([deleted.code, deleted.stdout.trim()], [0, 'deleted news']);
  const gone = await cli(['show', 'news']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /PF_ERR_UNKNOWN_APP.*HTTP 404/);
});

test('refusals: usage (exit 2), bad credentials and permissions (exit 1, the code named), no secret printed', async () => {
  const usage = [
    await cli(['rotate', 'news']),
    await cli([
      'add',
      'news',
      '--p8',
      '/nonexistent/AuthKey.p8',
      '--key-id',
      'K',
      '--team-id',
      'T',
      '--bundle-id',
      'b',
    ]),
    await cli(['add', 'news']),
    await cli(['rotate', 'news', '--p12', file('x.p12', 'x'), '--passphrase-env', 'PF_TEST_UNSET_VARIABLE']),
    await cli(['rotate', 'news', '--p8', file('k.p8', 'x'), '--cert', file('c.pem', 'x')]),
    await cli(['frobnicate']),
  ];
  for (const run of usage) assert.equal(run.code, 2, run.stderr);
  assert.match(usage[1]!.stderr, /--p8 \/nonexistent\/AuthKey\.p8: cannot read it \(ENOENT\)/);

  const p12 = p12Upload(['com.example.news'], 'the-right-passphrase-3');
  secrets.push(...secretsOf(p12.upload, { keyPem: p12.keyPem }), 'a-wrong-passphrase-5');
  const wrong = await cli(
    [
      'add',
      'news',
      '--bundle-id',
      'com.example.news',
      '--p12',
      file('wrong.p12', Buffer.from(p12.upload.pfx, 'base64')),
      '--passphrase-env',
      'PASS',
    ],
    { PASS: 'a-wrong-passphrase-5' },
  );
  assert.equal(wrong.code, 1);
  assert.match(
    wrong.stderr,
    /PF_ERR_BAD_CREDENTIALS: wrong passphrase .*\(credentials\.passphrase\) \(HTTP 400\)/,
  );

  const readOnly = await cli(['disable', 'demo']);
  assert.deepEqual([readOnly.code, /PF_ERR_APP_READ_ONLY/.test(readOnly.stderr)], [1, true]);
  const forbidden = await cli(['list'], { PF_API_KEY: senderKey });
  assert.deepEqual([forbidden.code, /PF_ERR_FORBIDDEN/.test(forbidden.stderr)], [1, true]);

  const printed = outputs.join('\n');
  assert.deepEqual(
    secrets.filter((s) => printed.includes(s)).map((s) => `${s.slice(0, 6)}…`),
    [],
  );
});
