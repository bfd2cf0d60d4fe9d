import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCatalogue, PushfleetError } from './errors.ts';

test('every error code is PF_ERR_-prefixed, has a 4xx/5xx status and is documented in README', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const [code, { status }] of Object.entries(errorCatalogue)) {
    assert.match(code, /^PF_ERR_[A-Z_]+$/);
    assert.ok(status >= 400 && status < 600, code);
    assert.ok(readme.includes(code), `${code} is not documented in README.md`);
  }
});

test('PushfleetError carries code, status and field into the body', () => {
  const err = new PushfleetError('PF_ERR_BAD_DEVICE_TOKEN', undefined, { field: 'tokens.3' });
  assert.equal(err.status, 400);
  assert.deepEqual(err.toBody(), {
    code: 'PF_ERR_BAD_DEVICE_TOKEN',
    message: errorCatalogue.PF_ERR_BAD_DEVICE_TOKEN.message,
    field: 'tokens.3',
  });
});
