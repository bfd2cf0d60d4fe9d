import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { handleOpsRequest } from './ops-server.ts';

test('/metrics serves the registry; a collector that fails is a 503, not a crash', async () => {
  const registry = new Registry();
  new Counter({ name: 'ops_test_total', help: 'a counter', registers: [registry] }).inc(2);
  const ok = await handleOpsRequest('/metrics', { registry });
  assert.equal(ok.status, 200);
  assert.match(ok.body, /ops_test_total 2/);

  const failing = {
    contentType: registry.contentType,
    metrics: () => Promise.reject(new Error('redis down')),
  };
  const failed = await handleOpsRequest('/metrics', { registry: failing });
  assert.equal(failed.status, 503);
  assert.equal(JSON.parse(failed.body).code, 'PF_ERR_INTERNAL');
});

test('/readyz is 503 while the readiness check fails or throws; /healthz never asks it', async () => {
  const registry = new Registry();
  const throws = () => Promise.reject(new Error('redis down'));
  assert.equal((await handleOpsRequest('/readyz', { registry, ready: throws })).status, 503);
  assert.equal((await handleOpsRequest('/readyz', { registry, ready: async () => false })).status, 503);
  assert.equal((await handleOpsRequest('/readyz', { registry, ready: async () => true })).status, 200);
  assert.equal((await handleOpsRequest('/healthz', { registry, ready: throws })).status, 200);
});
