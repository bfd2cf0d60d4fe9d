import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appQueueNames, appQueuePrefix } from '@pushfleet/queue';
import { Queue } from 'bullmq';
import {
  accepted,
  plans,
  recordIds,
  redisServer,
  untilAnswered,
  victimRequest,
  width,
} from './crash-cases.ts';
import {
  app,
  finished,
  inParallel,
  type Rig,
  recordOf,
  reportedTokens,
  resumeFleet,
  rig,
  tokenRange,
} from './harness.ts';

/** Crash points of the api: an accept and a cancel (the promise and the method: crash-cases.ts). */
const server = redisServer();

test('producer: an accept stopped at every Redis call, retried by the client with its key: accepted exactly once', {
  timeout: 600_000,
}, async () => {
  const tokens = tokenRange(700, 5001);
  const request = {
    method: 'POST',
    url: `/v1/apps/${app}/notifications`,
    headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' },
    payload: JSON.stringify({ tokens, notification: { alert: 'x' } }),
  };
  const uploadTokens = tokenRange(12_000, 90_001);
  const upload = {
    method: 'POST',
    url: `/v1/apps/${app}/campaigns`,
    headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': 'campaign-1' },
    payload: `${JSON.stringify({ notification: { alert: 'y' } })}\n${uploadTokens.map((t) => JSON.stringify(t)).join('\n')}\n`,
  };
  for (const [name, req, list] of [
    ['notification', request, tokens],
    ['campaign upload', upload, uploadTokens],
  ] as const) {
    const clean = await rig(server.url, () => accepted);
    const { calls, trace } = await victimRequest(clean, undefined, req);
    await clean.close();
    assert.ok(calls >= 3, `${name}: ${trace.join(', ')}`);
    const cases = plans(calls, 3);
    await inParallel(cases, width, async ({ plan, label }) => {
      const r = await rig(server.url, () => accepted);
      try {
        await victimRequest(r, plan, req);
        const answer = await untilAnswered(r, req);
        const where = `${name}, ${label}`;
        assert.equal(answer.statusCode, 202, `${where}: ${answer.body}`);
        const body = answer.json() as { id?: string; campaignId?: string };
        const id = (body.id ?? body.campaignId)!;
        assert.deepEqual(await recordIds(r), [id], `${where}: one record, the answered one`);
        await resumeFleet(r, [id]);
        const rec = await recordOf(r, id);
        assert.deepEqual([rec.accepted, rec.delivered], [String(list.length), String(list.length)], where);
        assert.equal(r.transport.sends.size, list.length, `${where}: every token sent`);
        assert.equal(r.transport.duplicates(), 0, `${where}: none sent twice`);
      } finally {
        await r.close();
      }
    });
    process.stdout.write(`# crash points (producer, ${name}): ${cases.length} cases over ${calls} calls\n`);
  }
});

test('cancel: a cancel stopped at every Redis call, repeated by the client: everything unsent ends cancelled, nothing is sent', {
  timeout: 600_000,
}, async () => {
  const sendAt = new Date(Date.now() + 3600_000).toISOString();
  const kinds = {
    notifications: {
      tokens: tokenRange(1200, 200_001),
      async create(r: Rig, tokens: string[]) {
        return (await r.producer.send(app, { tokens, notification: { alert: 'n' }, sendAt })).id;
      },
    },
    campaigns: {
      tokens: tokenRange(2300, 300_001),
      async create(r: Rig, tokens: string[]) {
        return (await r.producer.createCampaign(app, { notification: { alert: 'c' }, sendAt }, [tokens]))
          .campaignId;
      },
    },
  };
  for (const [kind, { tokens, create }] of Object.entries(kinds)) {
    const del = (id: string) => ({ method: 'DELETE', url: `/v1/apps/${app}/${kind}/${id}` });
    const clean = await rig(server.url, () => accepted);
    const { calls, trace } = await victimRequest(clean, undefined, del(await create(clean, tokens)));
    await clean.close();
    assert.ok(calls >= 3, `${kind}: ${trace.join(', ')}`);
    const cases = plans(calls, 4);
    await inParallel(cases, width, async ({ plan, label }) => {
      const r = await rig(server.url, () => accepted);
      try {
        const id = await create(r, tokens);
        await victimRequest(r, plan, del(id));
        const answer = await untilAnswered(r, del(id));
        const where = `cancel ${kind}, ${label}`;
        assert.equal(answer.statusCode, 202, `${where}: ${answer.body}`);
        const rec = await recordOf(r, id);
        const size = String(tokens.length);
        assert.deepEqual([rec.accepted, rec.cancelled, rec.delivered ?? '0'], [size, size, '0'], where);
        assert.ok(await finished(r, id), `${where}: finished at once, not at sendAt`);
        assert.equal(
          (await reportedTokens(r, id)).size,
          tokens.length,
          `${where}: every cancelled token is in the report`,
        );
        // Whatever jobs remain, run them now: they must send nothing and change no count.
        for (const name of appQueueNames) {
          const queue = new Queue(name, { connection: r.clean, prefix: appQueuePrefix(r.prefix, app) });
          await queue.promoteJobs();
          await queue.close();
        }
        await resumeFleet(r, [id]);
        assert.equal(r.transport.sends.size, 0, `${where}: nothing sent`);
        assert.deepEqual(await recordOf(r, id), rec, `${where}: counts unchanged`);
      } finally {
        await r.close();
      }
    });
    process.stdout.write(`# crash points (cancel ${kind}): ${cases.length} cases over ${calls} calls\n`);
  }
});
