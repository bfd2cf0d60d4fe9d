// The loop a typical app server runs: one @parse/node-apn Provider, send(notification, 1000 tokens)
// repeated. Run as its own process so its CPU is measured alone. Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import apn from '@parse/node-apn';

const [port, caFile, keyFile, keyId, teamId, countArg] = process.argv.slice(2);
const count = Number(countArg);
const provider = new apn.Provider({
  token: { key: readFileSync(keyFile!, 'utf8'), keyId: keyId!, teamId: teamId! },
  production: false,
  address: '127.0.0.1',
  port: Number(port),
  ca: [readFileSync(caFile!, 'utf8')],
  connectionRetryLimit: 0,
} as apn.ProviderOptions);
const note = new apn.Notification({
  alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
  sound: 'default',
});
note.topic = 'com.example.pushfleet.demo';
note.pushType = 'alert';
const tokens = Array.from({ length: 1000 }, () => randomBytes(32).toString('hex'));

await provider.send(note, tokens.slice(0, 10)); // connect and warm up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent = 0;
let failed = 0;
while (sent < count) {
  const result = await provider.send(note, tokens);
  sent += tokens.length;
  failed += result.failed.length;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({ sent, failed, seconds, perSecond: sent / seconds, cpuUsPerNotification: (cpu.user + cpu.system) / sent })}\n`,
);
await new Promise<void>((resolve) => provider.shutdown(() => resolve()));
