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

export const nodeKeepsSessionAfterGoaway: ClientBug = {
  clients: ['node-http2'],
  what:
    'node:http2 answers DATA on an idle stream with GOAWAY(PROTOCOL_ERROR), but the adapter keeps ' +
    'sending new requests on that session',
};
