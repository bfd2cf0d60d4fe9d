import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '@pushfleet/config';
import { connectRedis, createRedis, redisTopology } from '@pushfleet/queue';
import { appSpace, globalSpace } from '@pushfleet/store';
import { startAofRedis } from '@pushfleet/testkit';

const base = { PUSHFLEET_APPS: '{}' };

test('the Helm chart’s Sentinel variables parse into redis.sentinel', () => {
  const { redis } = loadConfig({
    ...base,
    PUSHFLEET_REDIS__SENTINEL__NAME: 'pushfleet',
    PUSHFLEET_REDIS__SENTINEL__HOSTS: '[{"host":"s0","port":26379},{"host":"s1","port":26379}]',
    PUSHFLEET_REDIS__SENTINEL__TLS: 'false',
    PUSHFLEET_REDIS__SENTINEL__DB: '0',
    PUSHFLEET_REDIS__SENTINEL__PASSWORD: 'secret',
    PUSHFLEET_REDIS__PREFIX: 'pf',
  });
  assert.equal(redisTopology(redis), 'sentinel');
  assert.deepEqual(redis.sentinel, {
    name: 'pushfleet',
    hosts: [
      { host: 's0', port: 26379 },
      { host: 's1', port: 26379 },
    ],
    password: 'secret',
    tls: false,
    db: 0,
  });
  assert.equal(redis.prefix, 'pf');
});

test('masterName/sentinels and host:port strings are accepted too', () => {
  const { redis } = loadConfig({
    ...base,
    PUSHFLEET_REDIS__SENTINEL__MASTER_NAME: 'm',
    PUSHFLEET_REDIS__SENTINEL__SENTINELS: '["a:26379"]',
  });
  assert.deepEqual(redis.sentinel?.hosts, [{ host: 'a', port: 26379 }]);
  assert.equal(redis.sentinel?.name, 'm');
});

test('each app has its own hash tag and the fleet one more, unless the prefix brings its own; sentinel and cluster together are refused', () => {
  const cluster = (prefix?: string) =>
    loadConfig({
      ...base,
      PUSHFLEET_REDIS__CLUSTER__NODES: '["127.0.0.1:7000"]',
      ...(prefix ? { PUSHFLEET_REDIS__PREFIX: prefix } : {}),
    }).redis;
  assert.equal(cluster().prefix, 'pushfleet');
  assert.equal(appSpace(cluster().prefix, 'shop'), 'pushfleet:app:{shop}');
  assert.equal(globalSpace(cluster().prefix), '{pushfleet}');
  assert.equal(appSpace(cluster('{pf-eu}').prefix, 'shop'), '{pf-eu}:app:shop', 'one slot for everything');
  assert.equal(globalSpace('{pf-eu}'), '{pf-eu}');
  assert.throws(
    () =>
      loadConfig({
        ...base,
        PUSHFLEET_REDIS__CLUSTER__NODES: '["a:1"]',
        PUSHFLEET_REDIS__SENTINEL__NAME: 'm',
        PUSHFLEET_REDIS__SENTINEL__HOSTS: '["a:2"]',
      }),
    /not both/,
  );
});

test('a Redis with an evicting maxmemory-policy is refused with a clear error', async () => {
  const server = await startAofRedis(['--maxmemory-policy', 'allkeys-lru']);
  const redis = createRedis(server.url, 'worker');
  try {
    await assert.rejects(connectRedis(redis), /maxmemory-policy is "allkeys-lru".*requires "noeviction"/);
  } finally {
    redis.disconnect();
    await server.cleanup();
  }
});

test('a worker connection started while Redis is down waits for it; a producer connection fails at once', async () => {
  const server = await startAofRedis();
  await server.stop('SIGKILL');
  const worker = createRedis(server.url, 'worker');
  worker.on('error', () => undefined);
  const producer = createRedis(server.url, 'producer');
  producer.on('error', () => undefined);
  try {
    await assert.rejects(connectRedis(producer));
    const connecting = connectRedis(worker);
    let settled = false;
    void connecting.finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(settled, false, 'still waiting while Redis is down');
    await server.start();
    await connecting;
    assert.equal(await worker.ping(), 'PONG');
    // Never up within the wait: the start fails with the connection's error.
    const late = createRedis('redis://127.0.0.1:1', 'worker');
    late.on('error', () => undefined);
    await assert.rejects(connectRedis(late, 300));
    late.disconnect();
  } finally {
    worker.disconnect();
    producer.disconnect();
    await server.cleanup();
  }
});
