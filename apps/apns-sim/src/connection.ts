import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ServerPort } from './faults.ts';
import type { SimContext } from './sim-context.ts';
import type { ConnectionAuth } from './validate-request.ts';

/** Per-connection state of the provider API. */
export interface Connection {
  id: number;
  /** Which listener accepted it: the provider API or the channel-management API. */
  port: ServerPort;
  session: ServerHttp2Session;
  /** The raw TCP socket under TLS, kept so a reset fault can send a real RST. */
  rawSocket: Socket | undefined;
  auth: ConnectionAuth;
  streams: Set<ServerHttp2Stream>;
  /** Set once GOAWAY went out: streams above it are refused, not processed. */
  goawayLastStreamId: number | undefined;
  highestStreamId: number;
  /** Token connections: true after the first authenticated request. */
  authenticatedOnce: boolean;
  /** "Drop to 1 after a rejection, restore after a success" (docs/apns-protocol.md §C.2). */
  dropped: boolean;
  advertisedLimit: number;
}

/** The stream limit this connection should advertise right now. */
export function desiredStreamLimit(conn: Connection, ctx: SimContext): number {
  const base = ctx.faults.maxConcurrentStreams(conn.port) ?? ctx.settings.maxConcurrentStreams;
  if (conn.dropped) return 1;
  if (conn.auth.kind === 'token' && !conn.authenticatedOnce && ctx.settings.tokenInitialStreams > 0) {
    return Math.min(ctx.settings.tokenInitialStreams, base);
  }
  return base;
}

/** Sends a SETTINGS frame when the advertised limit is stale. */
export function applyStreamLimit(conn: Connection, ctx: SimContext): void {
  const want = desiredStreamLimit(conn, ctx);
  if (want === conn.advertisedLimit || conn.session.destroyed || conn.session.closed) return;
  try {
    conn.session.settings({ maxConcurrentStreams: want });
    conn.advertisedLimit = want;
  } catch (err) {
    // Too many unacknowledged SETTINGS: keep the old value; the next change retries.
    ctx.log.debug({ err, conn: conn.id }, 'settings not sent');
  }
}

/**
 * Sends GOAWAY with APNs-style JSON debug data (`{"reason":"Shutdown"}`), refuses streams
 * above `lastStreamId` so the client knows to retry them, and closes once the rest finish.
 */
export function sendGoaway(conn: Connection, ctx: SimContext, reason: string, lastStreamId?: number): void {
  if (conn.goawayLastStreamId !== undefined || conn.session.destroyed) return;
  const last = lastStreamId ?? conn.highestStreamId;
  conn.goawayLastStreamId = last;
  ctx.stats.goaways++;
  try {
    conn.session.goaway(constants.NGHTTP2_NO_ERROR, last, Buffer.from(JSON.stringify({ reason })));
  } catch (err) {
    ctx.log.debug({ err }, 'goaway failed');
  }
  for (const stream of conn.streams) {
    if ((stream.id ?? 0) > last && !stream.closed) stream.close(constants.NGHTTP2_REFUSED_STREAM);
  }
  // close() lets streams at or below `last` finish, then ends the socket gracefully.
  conn.session.close();
}

/** Abrupt connection loss: a TCP RST when the raw socket is known, else a destroy. */
export function resetConnection(conn: Connection, ctx: SimContext): void {
  ctx.stats.resets++;
  const raw = conn.rawSocket;
  if (raw && !raw.destroyed && typeof raw.resetAndDestroy === 'function') {
    try {
      raw.resetAndDestroy();
      return;
    } catch {
      // fall through
    }
  }
  conn.session.destroy();
}

/** Streams above a GOAWAY's last stream id were never processed: refuse, do not record. */
export function refusedByGoaway(conn: Connection, stream: ServerHttp2Stream): boolean {
  if (conn.goawayLastStreamId !== undefined && (stream.id ?? 0) > conn.goawayLastStreamId) {
    stream.close(constants.NGHTTP2_REFUSED_STREAM);
    return true;
  }
  return false;
}

/** The first authenticated request lifts a token connection's initial stream limit. */
export function noteAuthenticated(ctx: SimContext, conn: Connection): void {
  if (!conn.authenticatedOnce) {
    conn.authenticatedOnce = true;
    applyStreamLimit(conn, ctx);
  }
}

/** After a 200/201/204: authenticated, and a dropped stream limit is restored (§C.2). */
export function noteAccepted(ctx: SimContext, conn: Connection): void {
  noteAuthenticated(ctx, conn);
  if (conn.dropped) {
    conn.dropped = false;
    applyStreamLimit(conn, ctx);
  }
}

/** After an error answer: maybe authenticated, and the limit may drop to 1 (§C.2). */
export function noteRejected(
  ctx: SimContext,
  conn: Connection,
  status: number,
  authenticated: boolean,
): void {
  if (authenticated) noteAuthenticated(ctx, conn);
  // A 410 is not an error condition for APNs (§A.9), so it does not cost stream capacity.
  const dropToOne = ctx.settings.dropToOneAfterRejection || ctx.faults.dropToOneAfterRejection(conn.port);
  if (dropToOne && status !== 410 && !conn.dropped) {
    conn.dropped = true;
    applyStreamLimit(conn, ctx);
  }
}
