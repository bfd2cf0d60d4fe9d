import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleIdOf, topicMatchesPushType } from './push-types.ts';

test('bundle ids and suffix rules (§A.4)', () => {
  assert.equal(bundleIdOf('com.x.app.voip-ptt'), 'com.x.app');
  assert.equal(bundleIdOf('com.x.app.voip'), 'com.x.app');
  assert.equal(bundleIdOf('com.x.app.push-type.liveactivity'), 'com.x.app');
  assert.equal(bundleIdOf('com.x.app'), 'com.x.app');
  assert.equal(topicMatchesPushType('com.x.app.voip-ptt', 'pushtotalk'), true);
  assert.equal(topicMatchesPushType('com.x.app.voip-ptt', 'voip'), false);
  assert.equal(topicMatchesPushType('com.x.app', 'voip'), false);
  assert.equal(topicMatchesPushType('com.x.app.voip', 'alert'), false);
  assert.equal(topicMatchesPushType('anything.voip', 'mdm'), true);
});
