import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { clients, sendAll } from './harness/check.ts';
import { type ClientBug, clientBug, nodeKeepsSessionAfterGoaway } from './harness/client-bugs.ts';
import {
  assertRecovers,
  endScenario,
  okTokens,
  requestTimeoutMs,
  runScenario,
  type Scenario,
  tally,
} from './harness/hostile.ts';
import { pythonHas, skipUnless } from './harness/process.ts';
import { createWorkdir, type Workdir } from './harness/workdir.ts';

// Scripted python-h2 peers that break the connection itself: silent servers, and frames RFC 9113
// makes connection errors. Every notification must settle within a bound, and a connection the
// client must not trust must be left for a fresh one.

let work: Workdir | undefined;
const skip = skipUnless('python3-h2 (for /usr/bin/python3)', pythonHas('h2'));

/**
 * Silent peers: every notification fails (nothing can deliver it), none waits for ever. Against
 * `zero-streams` one stream may go out before the server's SETTINGS arrive (a client may open one
 * before it knows the limit, as APNs' one-stream start expects) and be answered.
 */
const silent: { mode: string; what: string; bug?: ClientBug; mayAnswer?: number }[] = [
  { mode: 'no-settings', what: 'TLS with ALPN h2, then no SETTINGS ever' },
  { mode: 'zero-streams', what: 'SETTINGS_MAX_CONCURRENT_STREAMS 0, then silence', mayAnswer: 1 },
  { mode: 'no-alpn', what: 'TLS without ALPN h2, then silence' },
];

/** Raw frames after the first answer (peers/h2_peer.py RAW_FRAMES), each a connection error. */
const violations: { frames: string; what: string; bugs: ClientBug[] }[] = [
  {
    frames: 'window-overflow',
    what: 'WINDOW_UPDATE overflowing the connection window',
    bugs: [],
  },
  {
    frames: 'initial-window-2-31',
    what: 'SETTINGS_INITIAL_WINDOW_SIZE 2^31',
    bugs: [],
  },
  { frames: 'max-frame-small', what: 'SETTINGS_MAX_FRAME_SIZE 1024', bugs: [] },
  {
    frames: 'enable-push',
    what: 'SETTINGS_ENABLE_PUSH 1 from a server',
    bugs: [],
  },
  {
    frames: 'data-idle-stream',
    what: 'DATA on a stream the client never opened',
    bugs: [nodeKeepsSessionAfterGoaway],
  },
];

describe('hostile peers: connections', { skip }, () => {
  before(() => {
    work = createWorkdir('hostile-connection');
  });
  after(() => work?.remove());

  for (const client of clients) {
    for (const { mode, what, bug, mayAnswer = 0 } of silent) {
      test(
        `${what}: 40 notifications fail within a bound [${client}]`,
        bug ? clientBug(client, bug) : {},
        async () => {
          // A few request timeouts plus reconnect backoff: never "until someone restarts the worker".
          const bound = 3 * requestTimeoutMs + 1000;
          let s: Scenario | undefined;
          try {
            s = await runScenario(work!, client, { mode }, okTokens(40), bound, mode);
            const { accepted = 0, failed = 0, ...other } = tally(s.results);
            assert.deepEqual(other, {});
            assert.ok(accepted <= mayAnswer && accepted + failed === 40, JSON.stringify(tally(s.results)));
          } finally {
            await endScenario(s);
          }
        },
      );
    }

    for (const { frames, what, bugs } of violations) {
      describe(`${what} [${client}]`, () => {
        let s: Scenario | undefined;
        before(async () => {
          // One notification; its answer is followed by the raw frames.
          s = await runScenario(work!, client, { mode: `raw-${frames}` }, okTokens(1), 10_000, frames);
          await sleep(300);
        });
        after(() => endScenario(s));

        test(
          'the client ends the connection',
          clientBug(client, ...bugs.filter((b) => b !== nodeKeepsSessionAfterGoaway)),
          async () => {
            const deadline = Date.now() + 2000;
            const ended = () =>
              s!.peer.events().some((e) => e.conn === 1 && (e.e === 'client-goaway' || e.e === 'closed'));
            while (!ended() && Date.now() < deadline) await sleep(50);
            assert.ok(ended(), 'the first connection is still open 2 s after the violation');
          },
        );
        test(
          'the next notifications settle, and go out on a new connection',
          clientBug(client, ...bugs),
          async () => {
            const tokens = okTokens(20);
            const results = await sendAll(s!.transport, tokens, 4 * requestTimeoutMs, 10);
            assert.deepEqual(tally(results), { accepted: 20 });
            const onFirst = s!.peer
              .events()
              .filter((e) => e.e === 'answered' && e.conn === 1 && tokens.some((t) => e.path?.endsWith(t)));
            assert.deepEqual(onFirst, [], 'answered on the connection that broke the protocol');
          },
        );
        test('then every notification goes out on a new connection', async () => {
          await assertRecovers(s!);
        });
      });
    }
  }
});
