import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppDirectory, AppEntry, CredentialMaterial } from '@pushfleet/config';
import { configSchema } from '@pushfleet/config';
import { createLogger } from '@pushfleet/telemetry';
import { CredentialExpiry, type ExpiryGauge } from './credential-expiry.ts';

/** A directory whose apps and credentials the test sets, with change events on demand. */
function fakeDirectory() {
  const entries = new Map<string, AppEntry>();
  const material = new Map<string, CredentialMaterial | Error>();
  const listeners = new Set<(changed: string[]) => void>();
  const config = (environments: string[]) =>
    configSchema.parse({
      apps: {
        x: {
          bundleId: 'com.example.x',
          environments,
          credentials: { type: 'token', keyFile: '/k', keyId: 'ABCDEFGHIJ', teamId: 'ABCDEFGHIJ' },
        },
      },
    }).apps.x!;
  const directory: AppDirectory = {
    get: (app) => entries.get(app),
    ids: () => [...entries.keys()],
    credentials: async (app) => {
      const m = material.get(app);
      if (!m) throw new Error(`unknown app ${app}`);
      if (m instanceof Error) throw m;
      return m;
    },
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => undefined,
  };
  return {
    directory,
    set(
      app: string,
      environments: string[],
      m: CredentialMaterial | Error,
      source: 'config' | 'registry' = 'registry',
    ) {
      entries.set(app, {
        id: app,
        config: config(environments),
        source,
        state: 'active',
        revision: String(Math.random()),
      });
      material.set(app, m);
    },
    remove(app: string) {
      entries.delete(app);
      material.delete(app);
    },
    emit(changed: string[]) {
      for (const l of listeners) l(changed);
    },
  };
}

/** The gauge as a map, keyed `app/environment`. */
function fakeGauge() {
  const values = new Map<string, number>();
  const gauge: ExpiryGauge = {
    set: (labels, value) => values.set(`${labels.app}/${labels.environment}`, value),
    remove: (labels) => values.delete(`${labels.app}/${labels.environment}`),
  };
  return { gauge, values };
}

// The material stands for its notAfter (ms): the test's `notAfter` reads it back.
const cert = (notAfterMs: number): CredentialMaterial => ({
  type: 'certificate',
  certPem: String(notAfterMs),
});
const key: CredentialMaterial = { type: 'token', keyPem: 'k', keyId: 'ABCDEFGHIJ', teamId: 'ABCDEFGHIJ' };
const notAfter = (m: CredentialMaterial) => (m.type === 'token' ? null : Number(m.certPem));
const log = createLogger({ name: 'test', level: 'silent' });

test('one series per environment for certificate apps, config and registry alike; none for .p8 keys', async () => {
  const d = fakeDirectory();
  d.set('shop', ['sandbox', 'production'], cert(2_000_000_000_000), 'config');
  d.set('news', ['production'], cert(1_900_000_000_500));
  d.set('keyed', ['production'], key);
  const { gauge, values } = fakeGauge();
  const expiry = new CredentialExpiry({ directory: d.directory, gauge, notAfter, log, rescanMs: 60_000 });
  await expiry.start();
  assert.deepEqual(Object.fromEntries(values), {
    'shop/sandbox': 2_000_000_000,
    'shop/production': 2_000_000_000,
    'news/production': 1_900_000_000,
  });
  await expiry.close();
});

test('follows changes: renewed, rotated to a key, environments dropped, deleted, unreadable', async () => {
  const d = fakeDirectory();
  d.set('shop', ['sandbox', 'production'], cert(2_000_000_000_000));
  d.set('news', ['production'], cert(1_900_000_000_000));
  const { gauge, values } = fakeGauge();
  const expiry = new CredentialExpiry({ directory: d.directory, gauge, notAfter, log, rescanMs: 60_000 });
  await expiry.start();

  d.set('shop', ['production'], cert(2_100_000_000_000));
  d.emit(['shop']);
  await expiry.refresh([]);
  assert.deepEqual(Object.fromEntries(values), {
    'shop/production': 2_100_000_000,
    'news/production': 1_900_000_000,
  });

  d.set('news', ['production'], key);
  d.emit(['news']);
  await expiry.refresh([]);
  assert.equal(values.has('news/production'), false, 'a .p8 key has no date');

  d.set('news', ['production'], cert(1_800_000_000_000));
  d.emit(['news']);
  d.remove('shop');
  d.emit(['shop']);
  await expiry.refresh([]);
  assert.deepEqual(Object.fromEntries(values), { 'news/production': 1_800_000_000 });

  // Credentials that cannot be read: no value rather than a stale one.
  d.set('news', ['production'], new Error('cannot read credentials.certFile (ENOENT)'));
  await expiry.refresh();
  assert.equal(values.size, 0);
  await expiry.close();
});
