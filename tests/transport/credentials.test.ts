// Credentials never crash the process: a key or certificate that cannot be used, read or is
// refused by the server becomes `{ kind: 'failed', credentials: true }` on every send, with a
// short text that carries no key material and no passphrase.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type ApnsCredentials,
  type FailingTransport,
  type Http2Client,
  Http2Transport,
  type SendResult,
} from '@pushfleet/apns';
import { configDirectory, configSchema } from '@pushfleet/config';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { createDeliveryMetrics } from '@pushfleet/telemetry';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import forge from 'node-forge';
import { Registry } from 'prom-client';
import { createCertificateAuthority, createClientCertificate } from '../../apps/apns-sim/src/tls-material.ts';
import { TransportRegistry } from '../../apps/worker/src/transports.ts';
import { answerAll, ca, greet, type HostilePeer, startHostilePeer } from './hostile-peer.ts';

const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.creds');
const clients: Http2Client[] = ['lean', 'node-http2'];
const dir = mkdtempSync(join(tmpdir(), 'pushfleet-creds-'));
const peers: HostilePeer[] = [];
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
process.on('uncaughtException', onUncaught);

after(async () => {
  process.off('uncaughtException', onUncaught);
  await Promise.all(peers.map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function goodPeer(options: { requestCert?: boolean; clientCa?: string } = {}) {
  const p = await startHostilePeer((conn) => {
    greet(conn);
    answerAll(conn);
  }, options);
  peers.push(p);
  return p;
}

function transportFor(credentials: ApnsCredentials, port: number, client: Http2Client = 'lean') {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials,
      endpoint: { host: '127.0.0.1', port, caPem: ca.certPem },
      connections: 1,
      maxInFlightPerConnection: 10,
      requestTimeoutMs: 1000,
    },
    {},
    { client, reconnectBaseMs: 50 },
  );
}

/** Sends and checks every result is a credentials failure that leaks nothing. */
async function expectCredentialsFailure(
  transport: Http2Transport | FailingTransport,
  secrets: string[],
  pattern: RegExp,
) {
  try {
    await transport.warm?.();
    const results: SendResult[] = await transport.send(prepared, randomDeviceTokens(3));
    for (const r of results) {
      assert.equal(r.kind, 'failed', JSON.stringify(r));
      assert.equal((r as { credentials?: boolean }).credentials, true, JSON.stringify(r));
      assert.match((r as { error: string }).error, pattern);
      assert.ok((r as { error: string }).error.length < 200);
      for (const secret of secrets) assert.ok(!JSON.stringify(r).includes(secret), 'no secret in the error');
    }
  } finally {
    await transport.close();
  }
  assert.deepEqual(uncaught, [], 'nothing was thrown out of a callback or timer');
}

const pemBody = (pem: string) => pem.split('\n')[1]!;

test('an unparseable signing key fails every send as a credentials error', async () => {
  const p = await goodPeer();
  const keyPem = key.privateKeyPem.replace(/[A-Za-z]/, '!');
  await expectCredentialsFailure(
    transportFor({ type: 'token', keyPem, keyId: key.keyId, teamId: key.teamId }, p.port),
    [pemBody(keyPem)],
    /^credentials: the signing key cannot be parsed/,
  );
});

test('a signing key that is not EC P-256 is a credentials error', async () => {
  const p = await goodPeer();
  const rsa = createClientCertificate(createCertificateAuthority(), { topics: ['com.example.creds'] });
  await expectCredentialsFailure(
    transportFor({ type: 'token', keyPem: rsa.keyPem, keyId: key.keyId, teamId: key.teamId }, p.port),
    [pemBody(rsa.keyPem)],
    /not an EC P-256/,
  );
});

test('an unparseable certificate, and a .p12 with the wrong passphrase, are credentials errors', async () => {
  const p = await goodPeer();
  const cert = createClientCertificate(ca, { topics: ['com.example.creds'] });
  await expectCredentialsFailure(
    transportFor({ type: 'certificate', certPem: 'not a certificate', keyPem: cert.keyPem }, p.port),
    [pemBody(cert.keyPem)],
    /^credentials: the certificate or its key cannot be loaded/,
  );
  const p12 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(cert.keyPem),
    forge.pki.certificateFromPem(cert.certPem),
    'the-right-secret',
    { algorithm: '3des' },
  );
  const pfx = Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
  await expectCredentialsFailure(
    transportFor({ type: 'certificate', pfx, passphrase: 'a-wrong-secret' }, p.port),
    ['a-wrong-secret', 'the-right-secret'],
    /wrong passphrase/,
  );
  // The same .p12 with its passphrase works: the test above failed for the right reason.
  const good = transportFor({ type: 'certificate', pfx, passphrase: 'the-right-secret' }, p.port);
  try {
    assert.deepEqual(
      (await good.send(prepared, randomDeviceTokens(2))).map((r) => r.kind),
      ['accepted', 'accepted'],
    );
  } finally {
    await good.close();
  }
});

for (const client of clients) {
  test(`[${client}] a TLS handshake refused for the certificate is a credentials error, in bounded time`, async () => {
    // The server only trusts client certificates of its own CA; this one is from another.
    const p = await goodPeer({ requestCert: true, clientCa: ca.certPem });
    const stranger = createClientCertificate(createCertificateAuthority(), { topics: ['com.example.creds'] });
    const started = Date.now();
    await expectCredentialsFailure(
      transportFor(
        { type: 'certificate', certPem: stranger.certPem, keyPem: stranger.keyPem },
        p.port,
        client,
      ),
      [pemBody(stranger.keyPem)],
      /^credentials: the server refused the client certificate/,
    );
    assert.ok(Date.now() - started < 4000, `settled in ${Date.now() - started} ms`);
    // A certificate the server trusts gets through the same server.
    const trusted = createClientCertificate(ca, { topics: ['com.example.creds'] });
    const t = transportFor(
      { type: 'certificate', certPem: trusted.certPem, keyPem: trusted.keyPem },
      p.port,
      client,
    );
    try {
      assert.deepEqual(
        (await t.send(prepared, randomDeviceTokens(2))).map((r) => r.kind),
        ['accepted', 'accepted'],
      );
    } finally {
      await t.close();
    }
  });
}

test('TransportRegistry.get never throws: unreadable key files and unknown apps give failing transports', async () => {
  const p = await goodPeer();
  const keyFile = join(dir, 'AuthKey.p8');
  writeFileSync(keyFile, key.privateKeyPem);
  const app = (keyPath: string) => ({
    bundleId: 'com.example.creds',
    environments: ['sandbox', 'production'],
    credentials: { type: 'token', keyFile: keyPath, keyId: key.keyId, teamId: key.teamId },
    endpoint: { host: '127.0.0.1', port: p.port, caFile: join(dir, 'ca.pem') },
    connections: { min: 1, max: 2 },
  });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  const config = configSchema.parse({
    apps: { good: app(keyFile), broken: app(join(dir, 'missing.p8')) },
    worker: { requestTimeoutMs: 1000 },
  });
  const registry = new TransportRegistry(
    config,
    configDirectory(config),
    createDeliveryMetrics(new Registry()),
  );
  try {
    const failed = await registry.warm(2000);
    assert.deepEqual(failed.map((f) => `${f.app}/${f.environment}: ${f.error}`).sort(), [
      'broken/production: credentials: cannot read credentials.keyFile (ENOENT)',
      'broken/sandbox: credentials: cannot read credentials.keyFile (ENOENT)',
    ]);
    await expectCredentialsFailure(
      (await registry.get('broken', 'sandbox')) as FailingTransport,
      [],
      /ENOENT/,
    );
    const [unknown] = await (await registry.get('nope', 'sandbox')).send(prepared, randomDeviceTokens(1));
    assert.deepEqual(unknown, { kind: 'failed', error: 'no app "nope"' });
    const good = await registry.get('good', 'sandbox');
    assert.deepEqual(
      (await good.send(prepared, randomDeviceTokens(2))).map((r) => r.kind),
      ['accepted', 'accepted'],
    );
    // reset(app, environment) replaces that pair only; the key file is read afresh.
    writeFileSync(join(dir, 'missing.p8'), key.privateKeyPem);
    const production = await registry.get('broken', 'production');
    await registry.reset('broken', 'sandbox');
    assert.equal(await registry.get('broken', 'production'), production);
    const fixed = await (await registry.get('broken', 'sandbox')).send(prepared, randomDeviceTokens(2));
    assert.deepEqual(
      fixed.map((r) => r.kind),
      ['accepted', 'accepted'],
    );
    const pools = registry.inFlight();
    assert.ok(pools.some((s) => s.app === 'good' && s.streamLimit !== undefined && s.streamLimit > 0));
  } finally {
    await registry.close();
  }
  assert.deepEqual(uncaught, []);
});

test('config: the old number form of apps.<id>.connections is a fixed pool; http2 is the old name of lean', () => {
  const base = {
    bundleId: 'com.example.creds',
    credentials: { type: 'token', keyFile: 'k.p8', keyId: 'K', teamId: 'T' },
  };
  const config = configSchema.parse({
    apps: { fixed: { ...base, connections: 3 }, pooled: base },
    worker: { transport: 'http2' },
  });
  assert.deepEqual(config.apps.fixed?.connections, {
    min: 3,
    max: 3,
    idleCloseMs: 300_000,
    shrinkAfterMs: 30_000,
  });
  assert.deepEqual(config.apps.pooled?.connections, {
    min: 1,
    max: 8,
    idleCloseMs: 300_000,
    shrinkAfterMs: 30_000,
  });
  assert.equal(config.worker.transport, 'lean');
  assert.throws(() => configSchema.parse({ apps: { x: { ...base, connections: { min: 4, max: 2 } } } }));
});
