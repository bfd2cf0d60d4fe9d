import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deliverQueueName, pendingWork } from '@pushfleet/queue';
import { randomDeviceTokens, type StartedRedis, spawnApp, startRedis, waitFor } from '@pushfleet/testkit';
import { certificateUpload } from '../registry/helpers.ts';
import { gaugeValue, type RegistryFleet, startRegistryFleet, tokenCredentials } from './registry-fleet.ts';

/**
 * #15: apps managed at run time, seen by a running worker and scheduler (separate processes)
 * without a restart: an app PUT in the registry gets its first notification delivered within
 * 5 s; a change of credentials is used by the next send (the old key revoked at the simulator
 * refuses anything still signed with it); disable and enable are seen by both processes and
 * queued work of a disabled app is still delivered; a deleted app is no longer served. The
 * scheduler exports the credentials' expiry and the app's queue depth for registry apps.
 */
let server: StartedRedis;
let fleet: RegistryFleet;
const expiryMetric = 'pushfleet_credential_expiry_timestamp_seconds';
// A config-file app with a certificate (its own CA: it never sends here, the metric reads it).
const configCert = certificateUpload(['com.example.configcert']);
const configCertDir = mkdtempSync(join(tmpdir(), 'pf-config-cert-'));

before(async () => {
  server = await startRedis();
  writeFileSync(join(configCertDir, 'cert.pem'), configCert.certPem);
  writeFileSync(join(configCertDir, 'key.pem'), configCert.keyPem);
  fleet = await startRegistryFleet(server.url, {
    simulatorArgs: ['--token-initial-streams', '1'],
    config: {
      apps: {
        configcert: {
          bundleId: 'com.example.configcert',
          credentials: {
            type: 'certificate',
            certFile: join(configCertDir, 'cert.pem'),
            keyFile: join(configCertDir, 'key.pem'),
          },
        },
      },
    },
  });
});
after(async () => {
  await fleet?.stop();
  await server?.stop();
  rmSync(configCertDir, { recursive: true, force: true });
});

/** Sends one notification to the app and waits for its record to be done. */
async function sendOne(app: string, timeoutMs = 10_000) {
  const [token] = randomDeviceTokens(1) as [string];
  const { id } = await fleet.producer.send(app, { tokens: [token], notification: { alert: 'hello' } });
  const status = await waitFor(
    `notification to ${app} done`,
    async () => {
      const s = await fleet.ledger.records.notification(app, id);
      return s?.state === 'done' ? s : undefined;
    },
    { timeoutMs, intervalMs: 20 },
  );
  return { token, status };
}

/** Waits until the process logged that the app changed to the given state ('deleted' when gone). */
function seenBy(name: 'worker' | 'scheduler', app: string, state: string, since: number) {
  return waitFor(
    `${name} sees ${app} ${state}`,
    () =>
      fleet
        .logs(name)
        .slice(since)
        .some(
          (line) =>
            line.msg === 'apps changed' &&
            (line.apps as { app: string; state: string }[]).some((a) => a.app === app && a.state === state),
        ),
    { timeoutMs: 5000, intervalMs: 50 },
  );
}

/** Work left in either of the app's queues (a delete is refused while there is). */
const hasWork = async (app: string) => {
  const work = await pendingWork(fleet.producer.queues.appQueues(app));
  return work.ready + work.active + work.delayed > 0;
};

const mark = () => ({ worker: fleet.logs('worker').length, scheduler: fleet.logs('scheduler').length });

test('an app PUT in the registry is served by the running fleet: first delivery within 5 s', {
  timeout: 60_000,
}, async () => {
  const key = await fleet.newKey();
  const t0 = Date.now();
  await fleet.registry.put('hot', fleet.appBody('com.example.hot', tokenCredentials(key)));
  // The producer (the api in production) sees it through its own directory first.
  await waitFor('the producer sees the app', () => fleet.directory.get('hot') !== undefined, {
    timeoutMs: 5000,
    intervalMs: 10,
  });
  const { token, status } = await sendOne('hot');
  const [delivery] = await fleet.stack.sim.control.deliveries(token);
  assert.ok(delivery, 'the simulator received it');
  const firstDeliveryMs = delivery.receivedAt - t0;
  process.stdout.write(`# hot add: PUT → first delivery at the simulator in ${firstDeliveryMs} ms\n`);
  assert.equal(status.delivered, 1, JSON.stringify(status));
  assert.ok(firstDeliveryMs <= 5000, `first delivery ${firstDeliveryMs} ms after the PUT`);
  // The scheduler exports the new app's queue depth: it follows the registry too.
  await waitFor(
    'the scheduler exports the queue depth of the new app',
    async () => (await fleet.metrics('scheduler')).includes(`queue="${deliverQueueName('hot')}"`),
    { timeoutMs: 5000, intervalMs: 100 },
  );
});

test('rotated credentials are used by the next send; the old key can be revoked at once', {
  timeout: 60_000,
}, async () => {
  const first = await fleet.newKey();
  await fleet.registry.put('rotating', fleet.appBody('com.example.rotating', tokenCredentials(first)));
  await waitFor('producer sees it', () => fleet.directory.get('rotating') !== undefined, { timeoutMs: 5000 });
  assert.equal((await sendOne('rotating')).status.delivered, 1);
  const byKey = async () => (await fleet.stack.sim.control.stats()).acceptedByKey;
  assert.equal((await byKey())[first.keyId], 1);

  const second = await fleet.newKey();
  const m = mark();
  await fleet.registry.putCredentials('rotating', tokenCredentials(second));
  await seenBy('worker', 'rotating', 'active', m.worker);
  await fleet.stack.sim.control.removeKey(first.keyId);
  const rotated = await sendOne('rotating');
  assert.equal(rotated.status.delivered, 1, JSON.stringify(rotated.status));
  const counts = await byKey();
  assert.equal(counts[second.keyId], 1, JSON.stringify(counts));
  assert.equal(counts[first.keyId], 1, JSON.stringify(counts));
});

test('certificate expiry: exported by the scheduler for config and registry apps, follows rotation and delete', {
  timeout: 60_000,
}, async () => {
  const cert = await fleet.stack.sim.control.clientCert({ topics: ['com.example.certs'] });
  const notAfter = Math.floor(new Date(new X509Certificate(cert.certPem).validTo).getTime() / 1000);
  const m = mark();
  await fleet.registry.put(
    'certs',
    fleet.appBody('com.example.certs', { type: 'certificate', certPem: cert.certPem, keyPem: cert.keyPem }),
  );
  await seenBy('scheduler', 'certs', 'active', m.scheduler);
  const labels = { app: 'certs', environment: fleet.stack.sim.environment };
  await waitFor(
    'the expiry series',
    async () => gaugeValue(await fleet.metrics('scheduler'), expiryMetric, labels) === notAfter,
    {
      timeoutMs: 5000,
      intervalMs: 100,
    },
  );
  // The certificate is the simulator's: the worker sends with it.
  assert.equal((await sendOne('certs')).status.delivered, 1);
  // Config apps too: the certificate one with its notAfter, the stack's .p8 one without a series.
  const text = await fleet.metrics('scheduler');
  const configNotAfter = Math.floor(
    new Date(new X509Certificate(configCert.certPem).validTo).getTime() / 1000,
  );
  assert.equal(
    gaugeValue(text, expiryMetric, { app: 'configcert', environment: 'production' }),
    configNotAfter,
  );
  assert.equal(gaugeValue(text, expiryMetric, { app: fleet.stack.appId }), undefined);

  // Rotated to a .p8 key: the certificate's series goes.
  await fleet.registry.putCredentials('certs', tokenCredentials(await fleet.newKey()));
  await waitFor(
    'the series gone after rotation to a key',
    async () => gaugeValue(await fleet.metrics('scheduler'), expiryMetric, labels) === undefined,
    {
      timeoutMs: 5000,
      intervalMs: 100,
    },
  );
  assert.equal((await sendOne('certs')).status.delivered, 1);

  // Back to a certificate, then deleted: the series comes back, then goes with the app.
  const renewed = await fleet.stack.sim.control.clientCert({ topics: ['com.example.certs'] });
  await fleet.registry.putCredentials('certs', {
    type: 'certificate',
    certPem: renewed.certPem,
    keyPem: renewed.keyPem,
  });
  const renewedNotAfter = Math.floor(new Date(new X509Certificate(renewed.certPem).validTo).getTime() / 1000);
  await waitFor(
    'the renewed certificate',
    async () => gaugeValue(await fleet.metrics('scheduler'), expiryMetric, labels) === renewedNotAfter,
    {
      timeoutMs: 5000,
      intervalMs: 100,
    },
  );
  await waitFor('the queues empty', async () => !(await hasWork('certs')), {
    timeoutMs: 10_000,
  });
  await fleet.registry.delete('certs', hasWork);
  await waitFor(
    'the series gone after delete',
    async () => gaugeValue(await fleet.metrics('scheduler'), expiryMetric, labels) === undefined,
    {
      timeoutMs: 5000,
      intervalMs: 100,
    },
  );
});

test('disable and enable are seen by worker and scheduler; a disabled app’s queued work is delivered', {
  timeout: 60_000,
}, async () => {
  const key = await fleet.newKey();
  await fleet.registry.put('pausable', fleet.appBody('com.example.pausable', tokenCredentials(key)));
  await waitFor('producer sees it', () => fleet.directory.get('pausable') !== undefined, { timeoutMs: 5000 });
  let m = mark();
  await fleet.registry.disable('pausable');
  await Promise.all([
    seenBy('worker', 'pausable', 'disabled', m.worker),
    seenBy('scheduler', 'pausable', 'disabled', m.scheduler),
  ]);
  // Work accepted before the disable (the api refuses new work for a disabled app) still goes out.
  assert.equal((await sendOne('pausable')).status.delivered, 1);
  m = mark();
  await fleet.registry.enable('pausable');
  await Promise.all([
    seenBy('worker', 'pausable', 'active', m.worker),
    seenBy('scheduler', 'pausable', 'active', m.scheduler),
  ]);
  assert.equal((await sendOne('pausable')).status.delivered, 1);
});

test('a deleted app is no longer served: its pool closes, work left for it is not sent', {
  timeout: 60_000,
}, async () => {
  const key = await fleet.newKey();
  await fleet.registry.put('leaving', fleet.appBody('com.example.leaving', tokenCredentials(key)));
  await waitFor('producer sees it', () => fleet.directory.get('leaving') !== undefined, { timeoutMs: 5000 });
  assert.equal((await sendOne('leaving')).status.delivered, 1);
  const settings = fleet.directory.get('leaving')!.config;
  const m = mark();
  await fleet.registry.delete('leaving', hasWork);
  await Promise.all([
    seenBy('worker', 'leaving', 'deleted', m.worker),
    seenBy('scheduler', 'leaving', 'deleted', m.scheduler),
  ]);
  await waitFor(
    'the scheduler no longer exports its queue',
    async () => !(await fleet.metrics('scheduler')).includes(`queue="${deliverQueueName('leaving')}"`),
    { timeoutMs: 5000, intervalMs: 100 },
  );
  // A producer that has not caught up yet enqueues for it anyway: the fleet does not send it.
  const { DirectProducer } = await import('@pushfleet/queue');
  const stale = new DirectProducer({
    connection: fleet.redis,
    prefix: fleet.prefix,
    app: (id) => (id === 'leaving' ? settings : undefined),
    ledger: fleet.ledger,
  });
  const token = randomBytes(32).toString('hex');
  await stale.send('leaving', { tokens: [token], notification: { alert: 'too late' } });
  await sleep(3000);
  assert.deepEqual(await fleet.stack.sim.control.deliveries(token), []);
  // It waits: ready, or (when a lane had not yet detached from the app at its next scan) back
  // for a retry after its transport lookup refused the unknown app. Not sent, not failed.
  const left = await pendingWork(stale.queues.appQueues('leaving'));
  assert.equal(left.ready + left.delayed, 1, `the job waits, it is not failed: ${JSON.stringify(left)}`);
  await stale.queues.close();
});

test('a worker or scheduler with a wrong or no key-encryption key refuses to start (PF_ERR_CONFIG)', {
  timeout: 60_000,
}, async () => {
  // The registry holds sealed credentials by now (the tests above stored some).
  const config = JSON.parse(readFileSync(fleet.stack.configFile, 'utf8'));
  const wrongKey = join(configCertDir, 'wrong-kek');
  writeFileSync(wrongKey, randomBytes(32).toString('base64'));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['wrong', { keyEncryptionKey: { file: wrongKey } }, /is not the key the app registry/],
    ['missing', {}, /is not set, but the app registry holds credentials sealed with one/],
  ];
  for (const [name, appRegistry, message] of cases) {
    const file = join(configCertDir, `config-${name}.json`);
    const ports = { port: 0 };
    writeFileSync(
      file,
      JSON.stringify({
        ...config,
        appRegistry,
        worker: { ...config.worker, ...ports },
        scheduler: { ...config.scheduler, ...ports },
      }),
    );
    for (const app of ['worker', 'scheduler'] as const) {
      const proc = spawnApp(app, { PUSHFLEET_CONFIG: file });
      const code = await new Promise<number | null>((resolve) => proc.process.once('exit', resolve));
      const logs = proc.nonJsonLines().join('\n') + proc.recentLogs();
      assert.equal(code, 1, `${app} with a ${name} key exited with ${code}: ${logs}`);
      assert.match(logs, /PF_ERR_CONFIG/);
      assert.match(logs, message);
      assert.match(logs, /appRegistry\.keyEncryptionKey/);
    }
  }
});
