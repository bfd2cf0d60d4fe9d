import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { appQueueName, appQueuePrefix } from '@pushfleet/queue';
import { Queue } from 'bullmq';

/** KEDA scales on the length of a Redis list: the chart must name the list BullMQ really uses. */
test("the chart's KEDA triggers watch each app queue's real wait list", async () => {
  const golden = readFileSync(
    new URL('../../helm/pushfleet/tests/golden/keda.golden.yaml', import.meta.url),
    'utf8',
  );
  const listNames = [...golden.matchAll(/listName: "([^"]+)"/g)].map((m) => m[1]);
  assert.ok(listNames.length > 0);
  for (const app of ['shop', 'news']) {
    // BullMQ's own key for the queue's wait list (no connection needed to build key names).
    const queue = new Queue(appQueueName, {
      prefix: appQueuePrefix('pushfleet', app),
      connection: { lazyConnect: true },
    });
    assert.ok(listNames.includes(queue.keys.wait), `${queue.keys.wait} in ${listNames.join(', ')}`);
    await queue.close();
  }
});
