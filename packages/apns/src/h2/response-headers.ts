// A response header block as RFC 9113 §8.3 allows it. APNs answers with `:status`, `apns-id`
// (`apns-request-id` for broadcasts), and on errors `content-type` and maybe `retry-after`;
// anything malformed is a connection error (retryable), never an answer: a garbled `:status`
// must not become a permanent rejection.
import { parseStatus } from '../connection.ts';
import { ConnectionError, ErrorCode } from './frames.ts';

export interface ResponseHead {
  status: number;
  apnsId: string | undefined;
  retryAfter: string | undefined;
}

/** Connection-specific fields HTTP/2 forbids (§8.2.2). */
const connectionSpecific = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

const malformed = (why: string) => new ConnectionError(ErrorCode.protocolError, `malformed response: ${why}`);

/** The fields of a response's first (or an informational) header block. */
export function parseResponseHead(fields: readonly (readonly [string, string])[]): ResponseHead {
  let status: number | undefined;
  let apnsId: string | undefined;
  let retryAfter: string | undefined;
  let requestId: string | undefined;
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (name.startsWith(':')) {
      if (regularSeen) throw malformed(`${name} after a regular field`);
      if (name !== ':status') throw malformed(`pseudo-header ${name}`);
      if (status !== undefined) throw malformed('two :status fields');
      status = parseStatus(value);
      if (status === undefined) throw malformed(':status is not three digits');
      continue;
    }
    regularSeen = true;
    checkName(name);
    if (name === 'apns-id') apnsId = value;
    else if (name === 'retry-after') retryAfter = value;
    // Broadcasts are answered with apns-request-id instead (docs/apns-protocol.md §F.4).
    else if (name === 'apns-request-id') requestId = value;
  }
  if (status === undefined) throw malformed('no :status');
  return { status, apnsId: apnsId ?? requestId, retryAfter };
}

/** A trailer block: regular fields only (§8.1). APNs sends none; they are checked and ignored. */
export function checkTrailers(fields: readonly (readonly [string, string])[]): void {
  for (const [name] of fields) {
    if (name.startsWith(':')) throw malformed(`${name} in trailers`);
    checkName(name);
  }
}

function checkName(name: string): void {
  if (/[A-Z]/.test(name)) throw malformed('an upper-case field name');
  if (connectionSpecific.has(name)) throw malformed(`connection-specific field ${name}`);
}
