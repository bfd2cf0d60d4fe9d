/** Generated ops files are up to date: run `node --import tsx scripts/ops/generate.ts` to refresh. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { root, staleOutputs } from '../../scripts/ops/generate.ts';
import { updateGolden } from './tools.ts';

test('generated docs, dashboard and chart files are not stale', async () => {
  const stale = await staleOutputs();
  if (updateGolden) for (const { path, expected } of stale) writeFileSync(join(root, path), expected);
  else
    assert.deepEqual(
      stale.map((s) => s.path),
      [],
      'stale: run `node --import tsx scripts/ops/generate.ts` (or UPDATE_GOLDEN=1)',
    );
});
