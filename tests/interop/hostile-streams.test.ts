import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clients, token } from './harness/check.ts';
import { clientBug, nodeStaysOnDeadSession } from './harness/client-bugs.ts';
import {
  answeredOk,
  assertRecovers,
  endScenario,
  okTokens,
  runScenario,
  type Scenario,
  tally,
} from './harness/hostile.ts';
import { pythonHas, skipUnless } from './harness/process.ts';
import { createWorkdir, type Workdir } from './harness/workdir.ts';

// Scripted python-h2 peers that misbehave on streams: the transport must settle every
// notification within a bound, count nothing the server did not accept, send nothing twice that
// the server processed, and go on over a fresh connection.

let work: Workdir | undefined;
const skip = skipUnless('python3-h2 (for /usr/bin/python3)', pythonHas('h2'));

describe('hostile peers: streams', { skip }, () => {
  before(() => {
    work = createWorkdir('hostile-streams');
  });
  after(() => work?.remove());

  for (const client of clients) {
    describe(`GOAWAY in the middle of 200 streams [${client}]`, () => {
      let s: Scenario | undefined;
      before(async () => {
        s = await runScenario(
          work!,
          client,
          { mode: 'goaway', after: 30, delayMs: 5 },
          okTokens(200),
          15_000,
          'goaway',
        );
      });
      after(() => endScenario(s));

      test('every notification is accepted: streams past the GOAWAY are re-sent on a new connection', () => {
        assert.deepEqual(tally(s!.results), { accepted: 200 });
        assert.ok(s!.peer.events().some((e) => e.e === 'goaway-sent'));
        assert.ok(
          s!.peer.events().some((e) => e.e === 'dropped'),
          'some streams were past the GOAWAY',
        );
      });
      test('the server answered each token exactly once', () => {
        const answered = answeredOk(s!.peer);
        assert.equal(answered.size, 200);
        assert.deepEqual(
          [...answered.values()].filter((n) => n > 1),
          [],
        );
      });
    });

    describe(`RST_STREAM(REFUSED_STREAM) on half-uploaded streams [${client}]`, () => {
      let s: Scenario | undefined;
      before(async () => {
        // A 256-byte window: the body is still waiting for WINDOW_UPDATE when the refusal comes.
        s = await runScenario(
          work!,
          client,
          { mode: 'refuse', initialWindow: 256 },
          okTokens(90),
          15_000,
          'refuse',
        );
      });
      after(() => endScenario(s));

      test('every refused notification is re-sent and accepted, each once', () => {
        assert.deepEqual(tally(s!.results), { accepted: 90 });
        assert.equal(s!.peer.events().filter((e) => e.e === 'refused').length, 30);
        const answered = answeredOk(s!.peer);
        assert.equal(answered.size, 90);
        assert.deepEqual(
          [...answered.values()].filter((n) => n > 1),
          [],
        );
      });
      test('no RST_STREAM answers the peer’s RST_STREAM (RFC 9113 §5.4.2)', {}, () => {
        assert.deepEqual(
          s!.peer.events().filter((e) => e.e === 'rst-after-rst'),
          [],
        );
      });
    });

    describe(`SETTINGS_MAX_CONCURRENT_STREAMS drops from 100 to 1 mid-connection [${client}]`, () => {
      let s: Scenario | undefined;
      before(async () => {
        s = await runScenario(
          work!,
          client,
          { mode: 'lower-streams', after: 20, delayMs: 3 },
          okTokens(150),
          20_000,
          'lower-streams',
        );
      });
      after(() => endScenario(s));

      test('every notification is accepted', () => {
        assert.deepEqual(tally(s!.results), { accepted: 150 });
        assert.ok(
          s!.peer.events().some((e) => e.e === 'settings-acked'),
          'the client acknowledged the new limit',
        );
      });
      test('no stream opens beyond the acknowledged limit', () => {
        s!.peer.expect.verify!();
      });
    });

    describe(`TCP reset in the middle of 200 streams [${client}]`, () => {
      let s: Scenario | undefined;
      before(async () => {
        s = await runScenario(
          work!,
          client,
          { mode: 'abrupt-close', after: 25, delayMs: 3 },
          okTokens(200),
          15_000,
          'abrupt-close',
        );
      });
      after(() => endScenario(s));

      test('nothing counts as accepted that the server did not answer 200, nothing answered twice', () => {
        const answered = answeredOk(s!.peer);
        const acceptedNotAnswered = s!.tokens.filter(
          (t, i) => s!.results[i]!.kind === 'accepted' && !answered.has(t),
        );
        assert.deepEqual(acceptedNotAnswered, []);
        assert.deepEqual(
          [...answered.values()].filter((n) => n > 1),
          [],
        );
        const kinds = tally(s!.results);
        assert.deepEqual(
          Object.keys(kinds).filter((k) => k !== 'accepted' && k !== 'failed'),
          [],
          JSON.stringify(kinds),
        );
        assert.ok((kinds.failed ?? 0) > 0, 'streams in flight at the reset fail (their fate is unknown)');
      });
      test(
        'only streams in flight at the reset fail: the others go out on a new connection',
        clientBug(client, nodeStaysOnDeadSession),
        () => {
          // At most maxInFlightPerConnection (100) were on the wire when the connection died.
          const kinds = tally(s!.results);
          assert.ok((kinds.failed ?? 0) <= 100, JSON.stringify(kinds));
        },
      );
      test('a new connection carries the next notifications', async () => {
        await assertRecovers(s!);
      });
    });

    describe(`a 1 MiB response header block in CONTINUATION frames [${client}]`, () => {
      let s: Scenario | undefined;
      const tokens = [...okTokens(30), token('ee'), ...okTokens(30)];
      before(async () => {
        s = await runScenario(work!, client, { delayMs: 1 }, tokens, 15_000, 'huge-headers');
      });
      after(() => endScenario(s));

      test('every notification settles, none is rejected', () => {
        const kinds = tally(s!.results);
        assert.deepEqual(
          Object.keys(kinds).filter((k) => k !== 'accepted' && k !== 'failed'),
          [],
          JSON.stringify(kinds),
        );
      });
      test('a new connection carries the next notifications', async () => {
        await assertRecovers(s!);
      });
    });

    describe(`malformed responses: ":status: abc" and two :status fields [${client}]`, () => {
      let s: Scenario | undefined;
      const tokens = [...okTokens(20), token('ba'), ...okTokens(20), token('db'), ...okTokens(20)];
      before(async () => {
        s = await runScenario(work!, client, { delayMs: 1 }, tokens, 15_000, 'malformed');
      });
      after(() => endScenario(s));

      test('":status: abc" is a retryable failure, not a rejection or an acceptance', {}, () => {
        assert.equal(s!.results[20]!.kind, 'failed', JSON.stringify(s!.results[20]));
      });
      test('410 then 200 in one header block is a retryable failure, not an acceptance', {}, () => {
        assert.equal(s!.results[41]!.kind, 'failed', JSON.stringify(s!.results[41]));
      });
      test('a new connection carries the next notifications', async () => {
        await assertRecovers(s!);
      });
    });
  }
});
