import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreparedNotification, PushTransport, SendResult } from '@pushfleet/core';
import { PoolLease } from './pool-lease.ts';

const prepared: PreparedNotification = {
  headers: { 'apns-push-type': 'alert', 'apns-topic': 'com.example.app' },
  payload: '{}',
};

/** A transport whose sends answer only when the test says so; remembers whether it was closed. */
class HeldTransport implements PushTransport {
  closed = false;
  sent: string[] = [];
  private pending: (() => void)[] = [];

  constructor(private readonly name: string) {}

  send(_prepared: PreparedNotification, tokens: readonly string[]): Promise<SendResult[]> {
    if (this.closed)
      return Promise.resolve(tokens.map(() => ({ kind: 'failed', error: 'transport closed' })));
    this.sent.push(...tokens);
    return new Promise((resolve) =>
      this.pending.push(() => resolve(tokens.map(() => ({ kind: 'accepted', apnsId: this.name })))),
    );
  }

  answerAll(): void {
    for (const answer of this.pending.splice(0)) answer();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

test('a retired lease closes its pool only once the sends it took are answered', async () => {
  const old = new HeldTransport('old');
  const next = new HeldTransport('new');
  const lease = new PoolLease(old, async () => next);
  const taken = lease.send(prepared, ['a', 'b']);
  assert.equal(lease.carrying(), 1);
  let retired = false;
  const retiring = lease.retire(10_000).then(() => {
    retired = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(old.closed, false, 'not closed while a send is unanswered');
  assert.equal(retired, false);
  old.answerAll();
  assert.deepEqual(
    (await taken).map((r) => r.kind === 'accepted' && r.apnsId),
    ['old', 'old'],
  );
  await retiring;
  assert.equal(old.closed, true);
});

test('a send that reaches a retired lease goes to the current pool, never to the closing one', async () => {
  const old = new HeldTransport('old');
  const next = new HeldTransport('new');
  const lease = new PoolLease(old, async () => next);
  const held = lease.send(prepared, ['a']);
  const retiring = lease.retire(10_000);
  const late = lease.send(prepared, ['c']);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(old.sent, ['a']);
  assert.deepEqual(next.sent, ['c']);
  next.answerAll();
  old.answerAll();
  assert.equal(((await late)[0] as { apnsId?: string }).apnsId, 'new');
  await held;
  await retiring;
  assert.equal(old.closed, true);
  assert.equal(next.closed, false);
});

test('retire closes at the deadline when a send never settles (a transport breaking its contract)', async () => {
  const old = new HeldTransport('old');
  const lease = new PoolLease(old, async () => new HeldTransport('new'));
  void lease.send(prepared, ['a']);
  const t0 = Date.now();
  await lease.retire(50);
  assert.ok(Date.now() - t0 >= 45);
  assert.equal(old.closed, true);
});
