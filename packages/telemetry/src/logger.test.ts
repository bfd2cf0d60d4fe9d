import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, serializeError } from './logger.ts';

const token = 'ab'.repeat(32);

/** An ioredis reply error as ioredis builds it: the failed command and its arguments attached. */
function replyError(): Error {
  const err = new Error("READONLY You can't write against a read only replica.");
  Object.assign(err, { command: { name: 'evalsha', args: ['sha', 4, 'k1', token] } });
  return err;
}

test('logged errors never carry ioredis command arguments or long hex (device tokens)', () => {
  const transaction = new Error(`EXECABORT Transaction discarded for ${token}`);
  Object.assign(transaction, { previousErrors: [replyError()] });
  const out = JSON.stringify([serializeError(replyError()), serializeError(transaction)]);
  assert.ok(!out.includes(token), out);
  assert.ok(!out.includes('"args"'), out);
  assert.match(out, /READONLY/);
  assert.match(out, /abababab…abab/);
});

test('the logger applies it to `err` of every line', () => {
  let written = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      written += chunk;
      done();
    },
  });
  createLogger({ name: 't', level: 'info', destination: sink }).error({ err: replyError() }, 'failed');
  assert.ok(!written.includes(token), written);
  assert.equal(JSON.parse(written).err.message, "READONLY You can't write against a read only replica.");
});
