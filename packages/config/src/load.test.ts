import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyEnvOverrides, loadConfig, redactConfig } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'pushfleet-config-'));
const yamlFile = join(dir, 'pushfleet.yaml');
writeFileSync(
  yamlFile,
  `redis:
  url: redis://user:secret@127.0.0.1:6380
  password: redis-pa55
apps:
  demo:
    bundleId: com.example.demo
    environments: [sandbox]
    credentials: { type: certificate, pfxFile: /tmp/x.p12, passphrase: hunter2 }
    feedback: { webhook: { url: "https://hooks.example.com/apns", secret: s3cr3t-webhook-0123456789 } }
`,
);

test('loads YAML, applies defaults and PUSHFLEET_* overrides', () => {
  const config = loadConfig({
    PUSHFLEET_CONFIG: yamlFile,
    PUSHFLEET_API__PORT: '9000',
    PUSHFLEET_WORKER__CONCURRENCY: '3',
  });
  assert.equal(config.api.port, 9000);
  assert.equal(config.worker.concurrency, 3);
  assert.equal(config.redis.prefix, 'pushfleet');
  assert.deepEqual(config.apps.demo?.environments, ['sandbox']);
  assert.deepEqual(config.apps.demo?.connections, {
    min: 1,
    max: 8,
    idleCloseMs: 300_000,
    shrinkAfterMs: 30_000,
  });
  assert.ok(Object.isFrozen(config));
});

test('a bad value fails with PF_ERR_CONFIG naming the field', () => {
  assert.throws(
    () => loadConfig({ PUSHFLEET_CONFIG: yamlFile, PUSHFLEET_API__PORT: '"eighty"' }),
    (err: { code: string; field: string }) => err.code === 'PF_ERR_CONFIG' && err.field === 'api.port',
  );
  const jsonFile = join(dir, 'bad.json');
  writeFileSync(
    jsonFile,
    JSON.stringify({ apps: { demo: { bundleId: 'x', credentials: { type: 'token' } } } }),
  );
  assert.throws(
    () => loadConfig({ PUSHFLEET_CONFIG: jsonFile }),
    (err: { field: string; message: string }) => err.field.startsWith('apps.demo.credentials'),
  );
  assert.throws(() => loadConfig({ PUSHFLEET_CONFIG: join(dir, 'missing.yaml') }), /cannot read config file/);
});

test('env override paths: __ nests, _ joins words into camelCase', () => {
  assert.deepEqual(applyEnvOverrides({}, { PUSHFLEET_API__BODY_LIMIT_BYTES: '2048', OTHER: 'x' }), {
    api: { bodyLimitBytes: 2048 },
  });
});

test('redacted copy hides passphrases and URL passwords', () => {
  const text = JSON.stringify(redactConfig(loadConfig({ PUSHFLEET_CONFIG: yamlFile })));
  assert.ok(!text.includes('hunter2'));
  assert.ok(!text.includes('s3cr3t-webhook'));
  assert.ok(!text.includes('redis-pa55'));
  assert.ok(!text.includes('user:secret@'), 'the URL password');
  assert.ok(text.includes('[redacted]'));
});
