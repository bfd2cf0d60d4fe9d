import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorResponse, feedbackTuple, LegacyStatus, parseNextFrame } from './legacy-frames.ts';

const token = Buffer.from('00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0', 'hex');

test('reference example D.3 parses, and every prefix asks for more bytes', () => {
  const hex =
    `0200000042010020${token.toString('hex')}02000a7b22617073223a7b7d7d030004000000010400040000000005000 10a`.replace(
      / /g,
      '',
    );
  const bytes = Buffer.from(hex, 'hex');
  assert.equal(bytes.length, 71);
  for (let i = 0; i < bytes.length; i++) assert.equal(parseNextFrame(bytes.subarray(0, i)).kind, 'need-more');
  const step = parseNextFrame(bytes);
  assert.equal(step.kind, 'notification');
  if (step.kind !== 'notification') return;
  assert.deepEqual(step.notification.token, token);
  assert.equal(step.notification.payload.toString(), '{"aps":{}}');
  assert.equal(step.notification.identifier.toString('hex'), '00000001');
  assert.equal(step.notification.priority, 10);
  assert.equal(step.notification.size, 71);
});

test('reference example D.2 (enhanced) parses with the raw identifier', () => {
  const bytes = Buffer.from(`01000000016553f1000020${token.toString('hex')}000a7b22617073223a7b7d7d`, 'hex');
  assert.equal(bytes.length, 55);
  const step = parseNextFrame(bytes);
  assert.ok(step.kind === 'notification');
  assert.equal(step.notification.expiry, 1700000000);
  assert.equal(step.notification.identifier.toString('hex'), '00000001');
});

test('unknown command is a protocol error; packets are byte-exact', () => {
  const step = parseNextFrame(Buffer.from([9, 0, 0]));
  assert.deepEqual(step, {
    kind: 'error',
    command: 9,
    status: LegacyStatus.ProtocolError,
    identifier: Buffer.alloc(4),
  });
  assert.equal(errorResponse(8, Buffer.from('cafebabe', 'hex')).toString('hex'), '0808cafebabe');
  assert.equal(feedbackTuple(1700000000, token).toString('hex'), `6553f1000020${token.toString('hex')}`);
});
