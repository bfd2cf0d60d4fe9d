// One transport contender, run as its own process so its CPU is measured alone.
// Usage: contender.ts <name> <port> <caFile> <keyFile> <keyId> <teamId> <count>
// Prints one JSON line: { name, sent, accepted, seconds, perSecond, cpuUsPerNotification }.
import { readFileSync } from 'node:fs';
import { connect } from 'node:http2';
import apn from '@parse/node-apn';
import { Http2Transport, JwtSigner } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { benchTokens, benchTopic } from './bench-tokens.ts';

const [name, port, caFile, keyFile, keyId, teamId, countArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const count = Number(countArg);
const caPem = readFileSync(caFile, 'utf8');
const keyPem = readFileSync(keyFile, 'utf8');
const tokens = benchTokens();
const prepared = prepareNotification(
  notificationSchema.parse({
    alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
    sound: 'default',
  }),
  benchTopic,
);

/** Sends `tokens` once; resolves to how many APNs accepted. */
type SendBatch = () => Promise<number>;

/** Pushfleet's transport as the worker uses it, on its own HTTP/2 client or on node:http2. */
function pushfleet(client: 'lean' | 'node-http2' = 'lean'): { send: SendBatch; close: () => Promise<void> } {
  const transport = new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem, keyId, teamId },
      endpoint: { host: '127.0.0.1', port: Number(port), caPem },
      connections: 1,
      maxInFlightPerConnection: 1000,
      requestTimeoutMs: 10_000,
    },
    {},
    { client },
  );
  return {
    send: async () => (await transport.send(prepared, tokens)).filter((r) => r.kind === 'accepted').length,
    close: () => transport.close(),
  };
}

function bareNodeApn(): { send: SendBatch; close: () => Promise<void> } {
  const provider = new apn.Provider({
    token: { key: keyPem, keyId, teamId },
    production: false,
    address: '127.0.0.1',
    port: Number(port),
    ca: [caPem],
    connectionRetryLimit: 0,
  } as apn.ProviderOptions);
  const note = new apn.Notification({
    alert: { title: 'Pushfleet bench', body: 'Hello from the fleet' },
    sound: 'default',
  });
  note.topic = benchTopic;
  note.pushType = 'alert';
  return {
    send: async () => (await provider.send(note, tokens)).sent.length,
    close: () => new Promise((resolve) => provider.shutdown(() => resolve())),
  };
}

/** The floor of a Node sender: one node:http2 session, every stream at once, nothing else. */
function plainHttp2(): { send: SendBatch; close: () => Promise<void> } {
  const session = connect(`https://127.0.0.1:${port}`, { ca: caPem });
  const authorization = new JwtSigner({ key: keyPem, keyId, teamId }).authorization();
  const body = Buffer.from(prepared.payload);
  const sendOne = (token: string) =>
    new Promise<number>((resolve) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': `/3/device/${token}`,
        ...prepared.headers,
        authorization,
      });
      stream.on('response', (headers) => resolve(headers[':status'] === 200 ? 1 : 0));
      stream.on('error', () => resolve(0));
      stream.resume();
      stream.end(body);
    });
  return {
    send: async () => (await Promise.all(tokens.map(sendOne))).reduce((a, b) => a + b, 0),
    close: async () => void session.close(),
  };
}

const contenders = {
  pushfleet: () => pushfleet('lean'),
  'pushfleet on node:http2': () => pushfleet('node-http2'),
  'node-apn': bareNodeApn,
  'node-http2': plainHttp2,
} as const;
const contender = contenders[name as keyof typeof contenders]();
await contender.send(); // connect and warm up
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent = 0;
let accepted = 0;
while (sent < count) {
  accepted += await contender.send();
  sent += tokens.length;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await contender.close();
process.stdout.write(
  `${JSON.stringify({ name, sent, accepted, seconds, perSecond: sent / seconds, cpuUsPerNotification: (cpu.user + cpu.system) / sent })}\n`,
);
process.exit(0);
