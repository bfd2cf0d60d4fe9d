// Quick side-by-side of transports against the simulator in fast mode (one run, same sink).
import apn from '@parse/node-apn';
import { createNodeApnTransport, Http2Transport } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens, startSimulatorProcess } from '@pushfleet/testkit';

const count = Number(process.argv[2] ?? 50_000);
const sim = await startSimulatorProcess({ mode: 'fast' });
const key = generateProviderKey();
await sim.control.addKey({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem });
const tokens = randomDeviceTokens(1000);
const prepared = prepareNotification(
  notificationSchema.parse({ alert: { title: 'Hi', body: 'There' } }),
  'com.example.app',
);
const target = {
  environment: 'sandbox' as const,
  credentials: { type: 'token' as const, keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
  endpoint: { host: '127.0.0.1', port: sim.port, caPem: sim.caPem },
  connections: 1,
  maxInFlightPerConnection: 1000,
  requestTimeoutMs: 10_000,
};

async function measure(name: string, sendBatch: () => Promise<unknown>) {
  await sendBatch(); // warm-up: connect, JIT
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < count; sent += tokens.length) await sendBatch();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const perSecond = count / seconds;
  const cpuUs = (cpu.user + cpu.system) / count;
  console.log(
    JSON.stringify({
      name,
      perSecond: Math.round(perSecond),
      cpuUsPerNotification: Number(cpuUs.toFixed(1)),
    }),
  );
  return perSecond;
}

const na = createNodeApnTransport({ ...target, maxInFlightPerConnection: 1000 });
await measure('pushfleet-node-apn', () => na.send(prepared, tokens));
await na.close();
const provider = new apn.Provider({
  token: { key: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
  production: false,
  address: '127.0.0.1',
  port: sim.port,
  ca: [sim.caPem],
  connectionRetryLimit: 0,
} as apn.ProviderOptions);
const note = new apn.Notification({ alert: { title: 'Hi', body: 'There' } });
note.topic = 'com.example.app';
const bare = await measure('bare-node-apn', () => provider.send(note, tokens));
const h2 = new Http2Transport(target);
const viaH2 = await measure('pushfleet-http2', () => h2.send(prepared, tokens));
await h2.close();
await measure('bare-node-apn-again', () => provider.send(note, tokens));
await new Promise<void>((r) => provider.shutdown(() => r()));
console.log(JSON.stringify({ ratioHttp2VsBare: Number((viaH2 / bare).toFixed(2)) }));
await sim.stop();
