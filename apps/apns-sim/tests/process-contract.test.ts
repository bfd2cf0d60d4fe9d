import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:http2';
import { test } from 'node:test';
import { startSimulatorProcess } from '../../../packages/testkit/src/simulator.ts';
import { jwt, makeKey, post, randomToken, send } from './helpers.ts';

test('process contract: ready line, control API, SIGTERM', { timeout: 30_000 }, async () => {
  const sim = await startSimulatorProcess({ feedback: true, legacyGateway: true, channelLimit: 2 });
  try {
    assert.ok(sim.port > 0 && sim.controlPort > 0 && sim.gatewayPort! > 0 && sim.feedbackPort! > 0);
    assert.ok(sim.channelPort > 0 && sim.channelPort !== sim.port, 'channelPort on the ready line');
    assert.equal(sim.environment, 'sandbox');
    assert.match(sim.caPem, /BEGIN CERTIFICATE/);
    const key = makeKey();
    await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
    const session = connect(`https://127.0.0.1:${sim.port}`, { ca: sim.caPem, servername: 'localhost' });
    const token = randomToken();
    const res = await send(session, token, { authorization: `bearer ${jwt(key)}` });
    assert.equal(res.status, 200);
    const deliveries = await sim.control.deliveries(token);
    assert.equal(deliveries.length, 1);
    const stats = await sim.control.stats();
    assert.equal(stats.accepted, 1);
    assert.deepEqual(await sim.control.deliveriesSummary(), {
      tokens: 1,
      deliveries: 1,
      duplicateTokens: 0,
      duplicates: 0,
    });
    // --channel-limit reaches the process: two channels fit, a third does not.
    assert.equal((await sim.control.seedChannels({ bundleId: 'com.example.app', count: 2 })).length, 2);
    await assert.rejects(sim.control.seedChannels({ bundleId: 'com.example.app' }), /409/);
    const channels = connect(`https://127.0.0.1:${sim.channelPort}`, {
      ca: sim.caPem,
      servername: 'localhost',
    });
    const list = await post(
      channels,
      '/1/apps/com.example.app/all-channels',
      { authorization: `bearer ${jwt(key)}` },
      '',
      'GET',
    );
    assert.equal(list.status, 200);
    assert.equal(list.body.channels.length, 2);
    channels.close();
    const cert = await sim.control.clientCert({ topics: ['com.example.app'] });
    assert.match(cert.certPem, /BEGIN CERTIFICATE/);
    session.close();
  } finally {
    assert.equal(await sim.stop(), 0);
  }
  assert.equal(existsSync(sim.caFile), false, 'CA file deleted on SIGTERM');
});
