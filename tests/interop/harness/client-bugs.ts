import type { TestOptions } from 'node:test';
import type { Client } from './check.ts';

/**
 * Client bugs the hostile-peer checks found and that are not fixed yet (issue 14). A check that
 * fails because of one stays in the suite, marked `todo` for the affected client only, so it
 * documents the bug and turns into a plain pass once the fix lands (drop the entry then).
 */
export interface ClientBug {
  clients: readonly Client[];
  what: string;
}

/** Test options: `todo` naming the first of `bugs` that affects `client`, else none. */
export function clientBug(client: Client, ...bugs: (ClientBug | undefined)[]): TestOptions {
  const bug = bugs.find((b) => b?.clients.includes(client));
  return bug ? { todo: `client bug (${client}): ${bug.what}` } : {};
}

export const nodeStaysOnDeadSession: ClientBug = {
  clients: ['node-http2'],
  what:
    'after the connection is reset or node:http2 destroys the session itself, the adapter keeps ' +
    'using it: no new connection, later requests time out or fail "The session has been destroyed"',
};

export const leanRstAfterRst: ClientBug = {
  clients: ['lean'],
  what: "answers the server's RST_STREAM(REFUSED_STREAM) on a half-uploaded stream with its own RST_STREAM",
};

export const leanStatusNotNumeric: ClientBug = {
  clients: ['lean'],
  what: '":status: abc" becomes a permanent rejection (reason HTTPNaN) instead of a retryable failure',
};

export const leanTwoStatusFields: ClientBug = {
  clients: ['lean'],
  what: 'a header block with two :status fields (410, then 200) counts as accepted',
};

export const noDeadlineForQueued: ClientBug = {
  clients: ['lean', 'node-http2'],
  what:
    'notifications waiting for a stream slot have no deadline: against a server that stays silent ' +
    '(no SETTINGS, 0 concurrent streams, or no ALPN h2) none of 40 settle within 3 request timeouts',
};

export const leanIgnoresConnectionErrors: ClientBug = {
  clients: ['lean'],
  what:
    'ignores an RFC 9113 connection error (WINDOW_UPDATE overflow, SETTINGS_INITIAL_WINDOW_SIZE 2^31, ' +
    'SETTINGS_MAX_FRAME_SIZE < 16384, SETTINGS_ENABLE_PUSH 1, DATA on an idle stream): the connection ' +
    'stays open and carries the next requests',
};

export const nodeKeepsSessionAfterGoaway: ClientBug = {
  clients: ['node-http2'],
  what:
    'node:http2 answers DATA on an idle stream with GOAWAY(PROTOCOL_ERROR), but the adapter keeps ' +
    'sending new requests on that session',
};
