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

/**
 * What remains of the node:http2 adapter's dead-session bugs is node's, not the adapter's: node
 * does not surface some connection ends to JavaScript (a peer's TCP reset; its own GOAWAY after a
 * protocol error), so requests handed to such a session in the meantime end only at the request
 * timeout; the adapter then probes with a PING and replaces the session (the "recovers" checks).
 * The lean client (the default) notices at once.
 */
export const nodeStaysOnDeadSession: ClientBug = {
  clients: ['node-http2'],
  what:
    'node:http2 does not report a peer TCP reset: requests waiting for a slot then fail too, ' +
    'not only those in flight; the adapter recovers after the request timeout and a PING probe',
};

export const nodeKeepsSessionAfterGoaway: ClientBug = {
  clients: ['node-http2'],
  what: "node:http2 answers DATA on an idle stream with its own GOAWAY(PROTOCOL_ERROR) but tells JavaScript nothing: the next requests time out before the adapter's PING probe replaces the session",
};
