// The lean client reads a large burst of answers (a campaign's, hundreds in one TLS record) over
// several event loop turns, so other work of the process (another app's notification, a Redis
// reply, a timer) is not kept waiting behind the whole burst; and not one answer is lost on the way.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Http2Transport, type SendResult } from '@pushfleet/apns';
import { notificationSchema, prepareNotification } from '@pushfleet/core';
import { generateProviderKey, randomDeviceTokens } from '@pushfleet/testkit';
import { greet, type HostilePeer, headers, type PeerConnection, startHostilePeer } from './hostile-peer.ts';

const key = generateProviderKey();
const prepared = prepareNotification(notificationSchema.parse({ alert: 'hi' }), 'com.example.turns');
// 400 answers of 21 bytes: one TLS record (≤ 16 KB), so the client gets them in one read.
const burst = 400;
const peers: HostilePeer[] = [];
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

/** A server that holds its answers until every request is in, then writes them all at once. */
async function burstPeer(then: (conn: PeerConnection) => void = () => {}): Promise<HostilePeer> {
  const p = await startHostilePeer((conn) => {
    greet(conn, [[3, burst]]);
    conn.on('request', () => {
      if (conn.requests.length !== burst) return;
      conn.write(...conn.requests.map((id) => headers(id, [[':status', '200']])));
      then(conn);
    });
  });
  peers.push(p);
  return p;
}

function transport(p: HostilePeer, onRequest: () => void, readTurnMs: number) {
  return new Http2Transport(
    {
      environment: 'sandbox',
      credentials: { type: 'token', keyPem: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      endpoint: { host: '127.0.0.1', port: p.port, caPem: p.caPem },
      connections: 1,
      maxInFlightPerConnection: burst,
      requestTimeoutMs: 5000,
    },
    { onRequest },
    { readTurnMs },
  );
}

const accepted = (results: SendResult[]) => results.filter((r) => r.kind === 'accepted').length;

/** Sends the burst; returns the results and how many answers were handled before the loop next turned. */
async function sendBurst(p: HostilePeer, readTurnMs: number) {
  let answered = 0;
  let answeredBeforeNextTurn: number | undefined;
  const t = transport(
    p,
    () => {
      // At the first answer, ask the event loop to run something as soon as it may.
      if (++answered === 1) setImmediate(() => (answeredBeforeNextTurn = answered));
    },
    readTurnMs,
  );
  try {
    const results = await t.send(prepared, randomDeviceTokens(burst));
    await new Promise((resolve) => setImmediate(resolve));
    return { results, answeredBeforeNextTurn };
  } finally {
    await t.close();
  }
}

test('[lean] a burst of answers in one read is handled over several turns, every answer kept', async () => {
  const { results, answeredBeforeNextTurn } = await sendBurst(await burstPeer(), 0);
  assert.equal(accepted(results), burst);
  assert.ok(
    answeredBeforeNextTurn !== undefined && answeredBeforeNextTurn < burst,
    `other work ran only after ${answeredBeforeNextTurn} of ${burst} answers`,
  );
});

test('[lean] answers read but left for a later turn still count when the server closes right after', async () => {
  const p = await burstPeer((conn) => conn.socket.end());
  const { results } = await sendBurst(p, 0);
  assert.equal(accepted(results), burst);
});

test('[lean] with a budget longer than the burst takes, it is read in one turn (the control)', async () => {
  const { results, answeredBeforeNextTurn } = await sendBurst(await burstPeer(), 60_000);
  assert.equal(accepted(results), burst);
  assert.equal(answeredBeforeNextTurn, burst);
});
