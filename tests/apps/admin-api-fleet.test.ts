import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type PushfleetApiError, PushfleetClient } from '@pushfleet/client';
import {
  generateProviderKey,
  randomDeviceTokens,
  type Stack,
  type StartedRedis,
  spawnApp,
  startRedis,
  startStack,
  waitFor,
} from '@pushfleet/testkit';

/**
 * #15 through the front door: the admin API of a running api process (not the store directly)
 * adds an app that the separate worker then delivers for — first delivery at the simulator within
 * 5 s of the `PUT` — and disabling it through the API stops new work at the api. An api with a
 * wrong or missing key-encryption key refuses to start (PF_ERR_CONFIG naming the field).
 */
let server: StartedRedis;
let stack: Stack;
let client: PushfleetClient;
const dir = mkdtempSync(join(tmpdir(), 'pf-admin-api-'));

before(async () => {
  server = await startRedis();
  const kekFile = join(dir, 'kek');
  writeFileSync(kekFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  stack = await startStack({
    redisUrl: server.url,
    prefix: `admin-api-${randomUUID().slice(0, 8)}`,
    config: {
      appRegistry: { keyEncryptionKey: { file: kekFile }, pollMs: 500 },
      worker: { idleDetachMs: 1000, activityScanMs: 500 },
    },
  });
  client = new PushfleetClient({ baseUrl: stack.apiUrl, retryBaseMs: 10 });
});
after(async () => {
  await stack?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('PUT /v1/apps/:app on the running api → the worker delivers its first notification within 5 s', {
  timeout: 60_000,
}, async (t) => {
  const key = generateProviderKey();
  await stack.sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
  const [token] = randomDeviceTokens(1) as [string];
  const t0 = Date.now();
  const created = await client.apps.put('hot', {
    bundleId: 'com.example.hot',
    environments: [stack.sim.environment],
    endpoint: { host: '127.0.0.1', port: stack.sim.port, caFile: stack.sim.caFile },
    credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
  });
  assert.equal(created.app.source, 'registry');
  // The api serves it once its directory has the change (the change channel, or the next poll).
  const sent = await waitFor(
    'the api accepts notifications for the new app',
    () =>
      client
        .sendNotification('hot', { tokens: [token], notification: { alert: 'hello' } })
        .catch((err: PushfleetApiError) =>
          err.code === 'PF_ERR_UNKNOWN_APP' ? undefined : Promise.reject(err),
        ),
    { timeoutMs: 5000, intervalMs: 20 },
  );
  const acceptedMs = Date.now() - t0;
  const [delivery] = await waitFor(
    'the simulator receives it',
    async () => {
      const found = await stack.sim.control.deliveries(token);
      return found.length > 0 ? found : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  const firstDeliveryMs = delivery!.receivedAt - t0;
  t.diagnostic(
    `PUT → api accepts in ${acceptedMs} ms → first delivery at the simulator in ${firstDeliveryMs} ms`,
  );
  assert.ok(firstDeliveryMs <= 5000, `first delivery ${firstDeliveryMs} ms after the PUT`);
  const status = await waitFor('delivered', async () => {
    const s = await client.getNotification('hot', sent.id);
    return s.state === 'done' ? s : undefined;
  });
  assert.equal(status.delivered, 1, JSON.stringify(status));

  await client.apps.disable('hot');
  await assert.rejects(
    client.sendNotification('hot', { tokens: [token], notification: { alert: 'no' } }),
    (err: PushfleetApiError) => err.status === 409 && err.code === 'PF_ERR_APP_DISABLED',
  );
  // Its queue is empty (the notification was delivered): it can go.
  await waitFor('hot deleted once drained', () =>
    client.apps
      .delete('hot')
      .then(() => true)
      .catch(() => undefined),
  );
  await assert.rejects(client.apps.get('hot'), (err: PushfleetApiError) => err.code === 'PF_ERR_UNKNOWN_APP');
});

test('an api with a wrong, missing or unreadable key-encryption key refuses to start (PF_ERR_CONFIG)', {
  timeout: 60_000,
}, async () => {
  // The registry holds sealed credentials by now (the test above stored some).
  const config = JSON.parse(readFileSync(stack.configFile, 'utf8'));
  const wrongKey = join(dir, 'wrong-kek');
  writeFileSync(wrongKey, randomBytes(32).toString('base64'));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['wrong', { keyEncryptionKey: { file: wrongKey } }, /is not the key the app registry/],
    ['missing', {}, /is not set, but the app registry holds credentials sealed with one/],
    [
      'unreadable',
      { keyEncryptionKey: { file: join(dir, 'no-such-kek') } },
      /cannot read .*no-such-kek \(ENOENT\)/,
    ],
  ];
  for (const [name, appRegistry, message] of cases) {
    const file = join(dir, `config-${name}.json`);
    writeFileSync(file, JSON.stringify({ ...config, appRegistry, api: { ...config.api, port: 0 } }));
    const proc = spawnApp('api', { PUSHFLEET_CONFIG: file });
    const code = await new Promise<number | null>((resolve) => proc.process.once('exit', resolve));
    const logs = proc.nonJsonLines().join('\n') + proc.recentLogs();
    assert.equal(code, 1, `api with a ${name} key exited with ${code}: ${logs}`);
    assert.match(logs, /PF_ERR_CONFIG/);
    assert.match(logs, message);
    assert.match(logs, /appRegistry\.keyEncryptionKey/);
  }
});
