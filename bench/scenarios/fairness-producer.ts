// App A's producer in the fairness scenario, as a process of its own: in production the service
// that queues a campaign runs elsewhere, so here it runs at a low CPU priority (set by the parent)
// and its work does not take turns with the worker being measured. It makes its tokens, says
// `ready`, queues them as deliver batches when told `go` on stdin (as a campaign's fan-out would
// leave them), and prints the notification ids as JSON.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { deliverBatchSize, notificationSchema, prepareNotification } from '@pushfleet/core';
import { DirectProducer, maxBatchesPerTransaction } from '@pushfleet/queue';
import { Ledger } from '@pushfleet/store';
import { randomDeviceTokens } from '@pushfleet/testkit';
import { Redis } from 'ioredis';

const { redisUrl, prefix, app, bundleId, environment, count } = JSON.parse(process.argv[2]!) as {
  redisUrl: string;
  prefix: string;
  app: string;
  bundleId: string;
  environment: 'sandbox' | 'production';
  count: number;
};
const redis = new Redis(redisUrl);
const producer = new DirectProducer({
  connection: redis,
  prefix,
  app: () => ({ bundleId, environments: [environment] }),
  ledger: new Ledger(redis, prefix),
});
const prepared = prepareNotification(
  notificationSchema.parse({ alert: { title: 'Backlog', body: 'A large campaign' } }),
  bundleId,
);
const chunk = maxBatchesPerTransaction * deliverBatchSize;
const batches: string[][] = [];
for (let made = 0; made < count; made += chunk)
  batches.push(randomDeviceTokens(Math.min(chunk, count - made)));
await redis.ping();
process.stdout.write('ready\n');
await once(process.stdin, 'data');

const id = randomUUID();
const ids: string[] = [];
for (const tokens of batches) {
  const notificationId = `${id}-${ids.length}`;
  await producer.enqueueNotification({ id: notificationId, app, environment, prepared, tokens });
  ids.push(notificationId);
}
await producer.close();
redis.disconnect();
process.stdout.write(`${JSON.stringify(ids)}\n`);
